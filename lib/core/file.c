/* SPDX-License-Identifier: MIT */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/context.h"

pnas_status pni_file_read_all(pnas_context *ctx, const char *path, size_t max_bytes,
                              char **out_data, size_t *out_size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return pni_fail(ctx, PNAS_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return pni_fail(ctx, PNAS_ERR_IO, "'%s' is not a regular file", path);
  }
  if ((unsigned long long)st.st_size > (unsigned long long)max_bytes) {
    fclose(f);
    return pni_fail(ctx, PNAS_ERR_IO, "'%s' is %lld bytes; the limit is %zu", path,
                    (long long)st.st_size, max_bytes);
  }
  const size_t size = (size_t)st.st_size;
  char *data = pni_alloc(ctx, size + 1);
  if (data == NULL) {
    fclose(f);
    return PNAS_ERR_OUT_OF_MEMORY;
  }
  const size_t got = fread(data, 1, size, f);
  const int read_error = ferror(f);
  fclose(f);
  if (got != size || read_error) {
    pni_free(ctx, data);
    return pni_fail(ctx, PNAS_ERR_IO, "reading '%s' failed after %zu of %zu bytes", path, got,
                    size);
  }
  data[size] = '\0';
  *out_data = data;
  *out_size = size;
  return PNAS_OK;
}

pnas_status pni_file_write_atomic(pnas_context *ctx, const char *path, const void *data,
                                  size_t size) {
  char tmp[4096];
  const int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "path too long: '%s'", path);
  }
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return pni_fail(ctx, PNAS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  const unsigned char *p = data;
  size_t left = size;
  while (left > 0) {
    const ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      close(fd);
      unlink(tmp);
      return pni_fail(ctx, PNAS_ERR_IO, "writing '%s' failed: %s", path, strerror(err));
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    const int err = errno;
    unlink(tmp);
    return pni_fail(ctx, PNAS_ERR_IO, "flushing '%s' failed: %s", path, strerror(err));
  }
  if (rename(tmp, path) != 0) {
    const int err = errno;
    unlink(tmp);
    return pni_fail(ctx, PNAS_ERR_IO, "cannot replace '%s': %s", path, strerror(err));
  }
  return PNAS_OK;
}
