"""Built-in rrgbench plugins (datasets). Imported as `rrgbench_plugins`."""
