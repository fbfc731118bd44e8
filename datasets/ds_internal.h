/* ds_internal.h — private helpers shared by the datasets/ files (not a public header). */
#ifndef SAETOX_DS_INTERNAL_H
#define SAETOX_DS_INTERNAL_H

#include <hdf5.h>

#include "datasets.h"

/* HDF5 prints its error stack by default; we report our own one-line errors instead.  In a
 * thread-safe HDF5 the setting is per thread, so every entry point and thread calls this. */
static inline void ds_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* IEEE binary16, little-endian, as h5py stores numpy float16. */
hid_t ds_h5_f16_type(void); /* caller closes with H5Tclose */

/* Open path read-only and validate /activations [N, d_in] float: fills *file, *dset, rows,
 * d_in, elem_size (2, 4 or 8). One-line errors naming the file. */
int ds_open_activations(const char *path, hid_t *file, hid_t *dset, int64_t *rows, int *d_in,
                        int *elem_size, sx_err *err);

/* Read rows [start, start+rows) of /activations as float32 into dst (f16/f64 converted). */
int ds_read_rows(hid_t d, int esz, int d_in, int64_t start, int64_t rows, float *dst,
                 const char *path, sx_err *err);

#endif
