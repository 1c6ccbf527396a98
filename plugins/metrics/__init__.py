"""Built-in rrgbench plugins (metrics). Imported as `rrgbench_plugins`."""
