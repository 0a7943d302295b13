/* synth.h - a small synthetic image dataset for the training and job
 * tests: k classes of h x w x 1 u8 images, a random 0/255 prototype per
 * class, each pixel replaced by a random code with probability 0.1.  key
 * selects the sample stream (train and test sets differ); the prototypes
 * are the same for every key. */
#ifndef BL_TEST_SYNTH_H
#define BL_TEST_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

bl_dataset *synth(size_t n, uint32_t h, uint32_t w, int k, uint32_t key);

#endif
