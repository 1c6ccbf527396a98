"""Scoring from Python (notebook style): score a system, read CIs and per-sample rows, compare two systems.

Run: python examples/score_in_python.py   (offline; chexpert_rules + token need no downloaded weights)
"""

# %% Two toy systems on three references
import rrgbench

refs = ["no pleural effusion . heart size is normal .",
        "cardiomegaly . small left pleural effusion .",
        "no acute cardiopulmonary abnormality ."]
system_a = ["no effusion . normal heart size .",
            "the heart is enlarged . left pleural effusion .",
            "no acute disease ."]
system_b = ["no effusion .", "no effusion .", "no effusion ."]

# %% Score: a mapping of score keys, with 95% bootstrap CIs, signatures and per-sample rows
r = rrgbench.score(system_a, refs, metrics=["chexpert_rules", "token"], bootstrap=200)
lo, hi = r.ci95["ce_f1_micro"]
print(f"CE F1 (micro) {r['ce_f1_micro']:.3f}  95% CI [{lo:.3f}, {hi:.3f}]")
print(f"Token F1      {r['token_f1']:.3f}")
print("signature:", r.signatures["chexpert_rules"])
print(r.samples[["token_f1"]].round(3))  # pandas DataFrame indexed by sample id
summary = r.to_dict()  # the same object as `rrgbench score --json`

# %% Compare: paired bootstrap + approximate randomization, Holm-adjusted within headline / other keys
cmp = rrgbench.compare(system_a, system_b, refs, metrics=["token"], bootstrap=200, trials=200)
for key, v in cmp["metrics"]["token"]["scores"].items():
    print(f"{key:<16} A-B {v['delta']:+.3f}  p {v['p_bootstrap']:.3f}  Holm p {v['p_bootstrap_holm']:.3f}")

# %% A finished run directory: rrgbench.load_run(path).scores / .generations / .record
