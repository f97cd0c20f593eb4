/* SPDX-License-Identifier: MIT */
#include "pnas/pnas.h"

PNAS_API const char *pnas_status_string(pnas_status status) {
  switch (status) {
    case PNAS_OK: return "ok";
    case PNAS_ERR_INVALID_ARGUMENT: return "invalid argument";
    case PNAS_ERR_OUT_OF_MEMORY: return "out of memory";
    case PNAS_ERR_ABI_MISMATCH: return "ABI version mismatch";
    case PNAS_ERR_IO: return "input/output error";
    case PNAS_ERR_PARSE: return "parse error";
    case PNAS_ERR_FORMAT: return "bad file format";
    case PNAS_ERR_SHAPE: return "shape mismatch";
    case PNAS_ERR_NOT_FOUND: return "not found";
    case PNAS_ERR_STATE: return "invalid state";
    case PNAS_ERR_NUMERIC: return "non-finite value";
    case PNAS_ERR_UNSUPPORTED: return "unsupported";
    case PNAS_ERR_WRONG_HANDLE: return "wrong or destroyed handle";
    case PNAS_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

PNAS_API uint32_t pnas_version(void) { return (uint32_t)PNAS_VERSION_NUMBER; }

PNAS_API const char *pnas_version_string(void) { return PNAS_VERSION_STRING; }
