#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

void *bl_alloc(size_t size)
{
    size_t rounded;
    if (!bl_size_add(size, BL_ALIGN - 1, &rounded))
        return NULL;
    rounded &= ~(size_t)(BL_ALIGN - 1);
    if (rounded == 0)
        rounded = BL_ALIGN;
    void *p = aligned_alloc(BL_ALIGN, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void bl_free(void *p) { free(p); }
