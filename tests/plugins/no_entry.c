/* no_entry.c - a shared object without betlab_plugin_entry. */
int betlab_plugin_entry_typo(void);
__attribute__((visibility("default"))) int betlab_plugin_entry_typo(void) { return 0; }
