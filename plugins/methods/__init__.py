"""Built-in rrgbench plugins (methods). Imported as `rrgbench_plugins`."""
