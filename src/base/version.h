/* version.h - betlab's version, shared by the CLI, Lua (bl.version) and
 * session-record headers. */
#ifndef BL_BASE_VERSION_H
#define BL_BASE_VERSION_H
#define BETLAB_VERSION "0.1.0"
#endif
