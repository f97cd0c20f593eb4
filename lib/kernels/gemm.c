/* SPDX-License-Identifier: MIT */
#include "kernels/gemm.h"

#include <blis.h>

#include "kernels/gemm512.h"

void pni_sgemm(int32_t threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  pni_blis_choose_arch();
  /* Starting BLIS's thread team costs more than a small product saves, and
   * on a loaded machine a descheduled team member stalls the whole call. */
  if ((double)m * (double)n * (double)k < (double)PNI_GEMM_SERIAL_MACS) threads = 1;
  /* A runtime object per call keeps the thread count local to this context
   * instead of changing BLIS's process-wide setting. */
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(threads, &rntm);
  /* NULL is BLIS's own context; libpnas's carries its 512-bit microkernel
   * for the products that gain from it (gemm512.c). */
  cntx_t *cntx = pni_gemm512_context(m, n, k);
  /* Row-major storage is BLIS's general stride with a column stride of 1;
   * a transposed operand is the same memory read with the strides swapped. */
  bli_sgemm_ex(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
               trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &alpha,
               (float *)a, (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, cntx,
               &rntm);
}
