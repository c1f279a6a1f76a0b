/* Training helpers: optimizers and losses. */
#ifndef LSCC_TRAIN_H
#define LSCC_TRAIN_H

#include "lscc_rt.h"

#endif
