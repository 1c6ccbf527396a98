"""Built-in rrgbench plugins (plugins). Imported as `rrgbench_plugins`."""
