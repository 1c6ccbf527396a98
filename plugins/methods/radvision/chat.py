"""Chat formatting for Qwen2.5-VL report generation, with the prompt masked out of the loss.

One prompt for training and inference (the notebook trained on "Generate radiology report." and asked a
different question at inference). The sequence is ``prompt ids + report ids + <|im_end|>``; labels are -100
on the prompt (system turn, image placeholder tokens, question) and on padding, so only the report and its
end-of-turn token are learned (the notebook's labels were ``input_ids``, prompt and image tokens included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from rrgbench.api import RRGBenchError

IMAGE_PAD = "<|image_pad|>"
IM_END = "<|im_end|>"
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|image_pad|>", "<|video_pad|>")


def qwen_chat_prompt(prompt: str) -> str:
    """Qwen2-VL's chat template for one user turn (image, then text) plus the generation prompt."""
    return ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            f"<|vision_start|>{IMAGE_PAD}<|vision_end|>{prompt}<|im_end|>\n<|im_start|>assistant\n")


def processor_chat_prompt(processor: Any) -> Callable[[str], str]:
    """The chat template of a local processor (Lingshu-7B) as a ``prompt -> text`` function."""

    def render(prompt: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return render


class ChatFormat:
    """Images + fixed prompt -> model inputs, for training (right-padded, masked labels) and generation."""

    def __init__(self, tokenizer: Any, image_processor: Any, prompt: str, render: Callable[[str], str],
                 max_length: int) -> None:
        self.tok = tokenizer
        self.image_processor = image_processor
        self.merge = int(getattr(image_processor, "merge_size", 2))
        self.template = render(prompt)
        if self.template.count(IMAGE_PAD) != 1:
            raise RRGBenchError(f"chat template must contain one {IMAGE_PAD}: {self.template!r}")
        self.max_length = max_length
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_ids = [int(tokenizer.convert_tokens_to_ids(IM_END))]

    def pixels(self, grey: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Grey ``[H, W]`` arrays in [0, 1] -> ``pixel_values`` and ``image_grid_thw`` (one image each)."""
        rgb = [np.repeat(np.asarray(g, dtype=np.float32)[..., None], 3, axis=-1) for g in grey]
        out = self.image_processor(images=rgb, do_rescale=False, return_tensors="pt")
        return out["pixel_values"], out["image_grid_thw"]

    def prompt_ids(self, grid_thw: torch.Tensor) -> list[list[int]]:
        rows = []
        for thw in grid_thw.tolist():
            n = int(np.prod(thw)) // (self.merge * self.merge)
            text = self.template.replace(IMAGE_PAD, IMAGE_PAD * n)
            rows.append(self.tok(text, add_special_tokens=False)["input_ids"])
        if max(len(r) for r in rows) >= self.max_length:
            raise RRGBenchError(f"prompt of {max(len(r) for r in rows)} tokens exceeds max_length {self.max_length}")
        return rows

    def train_batch(self, grey: Sequence[np.ndarray], reports: Sequence[str]) -> dict[str, torch.Tensor]:
        pixel_values, grid = self.pixels(grey)
        ids, labels = [], []
        for prompt, report in zip(self.prompt_ids(grid), reports):
            target = self.tok(report, add_special_tokens=False)["input_ids"]
            target = target[:self.max_length - len(prompt) - 1] + self.eos_ids
            ids.append(prompt + target)
            labels.append([-100] * len(prompt) + target)
        width = max(len(r) for r in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        label_t = torch.full((len(ids), width), -100, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, (r, lab) in enumerate(zip(ids, labels)):
            input_ids[i, :len(r)] = torch.tensor(r)
            label_t[i, :len(r)] = torch.tensor(lab)
            mask[i, :len(r)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": label_t, "pixel_values": pixel_values,
                "image_grid_thw": grid}

    def generation_batch(self, grey: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """Left-padded prompts (the images alone decide the report)."""
        pixel_values, grid = self.pixels(grey)
        rows = self.prompt_ids(grid)
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "pixel_values": pixel_values, "image_grid_thw": grid}
