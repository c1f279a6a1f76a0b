/* Image sources beyond lscc_image_memory. */
#ifndef LSCC_IMAGE_H
#define LSCC_IMAGE_H

#include "lscc_rt.h"

#endif
