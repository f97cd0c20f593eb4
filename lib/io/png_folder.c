/* SPDX-License-Identifier: MIT */
/* Image folders: root/<class>/<image>.png. Classes are the sub-folders in
 * byte order of their names (the label is the index); images are the .png
 * files of each, also in name order, so a folder always loads the same way.
 * Only 8-bit gray and 8-bit RGB PNGs are accepted: converting palette,
 * alpha or 16-bit images would change pixel values in ways a caller did not
 * ask for, so they are refused with a message naming the file. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "io/dataset.h"

/* Names gathered from folders: one block of NUL-terminated strings and the
 * offset of each. Pointers into the block are made once it stops growing. */
typedef struct name_list {
  pnas_context *ctx;
  char *chars;
  size_t chars_len, chars_cap;
  size_t *offsets;
  size_t count, cap;
} name_list;

/* Returns block (of *cap elements, `used` of them in use) grown by
 * doubling until it holds `need`, or NULL with block untouched. The
 * allocator hooks have no realloc, hence the copy. */
static void *grow(pnas_context *ctx, void *block, size_t *cap, size_t used, size_t need,
                  size_t elem) {
  if (need <= *cap) return block;
  size_t new_cap = *cap > 0 ? *cap : 256;
  while (new_cap < need && new_cap <= SIZE_MAX / 2) new_cap *= 2;
  int overflow = new_cap < need;
  const size_t bytes = pni_mul_size(new_cap, elem, &overflow);
  if (overflow) {
    pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY, "out of memory: a list of %zu names is too long", need);
    return NULL;
  }
  void *bigger = pni_alloc(ctx, bytes);
  if (bigger == NULL) return NULL;
  if (used > 0) memcpy(bigger, block, used * elem);
  pni_free(ctx, block);
  *cap = new_cap;
  return bigger;
}

/* Appends "prefix/name", or "name" when prefix is NULL. */
static int name_list_add(name_list *l, const char *prefix, const char *name) {
  const size_t prefix_len = prefix != NULL ? strlen(prefix) + 1 : 0;
  const size_t len = prefix_len + strlen(name) + 1;
  char *chars = grow(l->ctx, l->chars, &l->chars_cap, l->chars_len, l->chars_len + len, 1);
  if (chars == NULL) return 0;
  l->chars = chars;
  size_t *offsets = grow(l->ctx, l->offsets, &l->cap, l->count, l->count + 1, sizeof *offsets);
  if (offsets == NULL) return 0;
  l->offsets = offsets;
  char *dst = l->chars + l->chars_len;
  if (prefix != NULL) {
    memcpy(dst, prefix, prefix_len - 1);
    dst[prefix_len - 1] = '/';
  }
  memcpy(dst + prefix_len, name, len - prefix_len);
  l->offsets[l->count++] = l->chars_len;
  l->chars_len += len;
  return 1;
}

static void name_list_free(name_list *l) {
  pni_free(l->ctx, l->chars);
  pni_free(l->ctx, l->offsets);
}

static char **name_list_pointers(name_list *l) {
  char **names = pni_calloc(l->ctx, l->count, sizeof *names);
  if (names == NULL) return NULL;
  for (size_t i = 0; i < l->count; i++) names[i] = l->chars + l->offsets[i];
  return names;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_png_suffix(const char *name) {
  const size_t len = strlen(name);
  return len > 4 && strcasecmp(name + len - 4, ".png") == 0;
}

/* Adds the sub-folders (want_folders) or the .png files of folder `dir` to
 * out, as prefix/name. Names starting with '.' are skipped: they are hidden
 * files, "." and "..", or tool droppings such as .ipynb_checkpoints. */
static pnas_status list_folder(pnas_context *ctx, const char *dir, const char *prefix,
                               int want_folders, name_list *out) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    return pni_fail(ctx, PNAS_ERR_IO, "cannot open folder '%s': %s", dir, strerror(errno));
  }
  pnas_status status = PNAS_OK;
  for (;;) {
    errno = 0;
    const struct dirent *e = readdir(d);
    if (e == NULL) {
      if (errno != 0) {
        status = pni_fail(ctx, PNAS_ERR_IO, "reading folder '%s' failed: %s", dir, strerror(errno));
      }
      break;
    }
    if (e->d_name[0] == '.') continue;
    if (!want_folders && !has_png_suffix(e->d_name)) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
      status =
          pni_fail(ctx, PNAS_ERR_IO, "cannot read '%s/%s': %s", dir, e->d_name, strerror(errno));
      break;
    }
    if (want_folders ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) continue;
    if (!name_list_add(out, prefix, e->d_name)) {
      status = PNAS_ERR_OUT_OF_MEMORY;
      break;
    }
  }
  closedir(d);
  return status;
}

/* One PNG being decoded. libpng reports errors by calling png_on_error,
 * which records the text and longjmps back to the setjmp of the function
 * that made the libpng call; its memory comes from the context. */
typedef struct png_reader {
  pnas_context *ctx;
  const char *path;
  FILE *f;
  png_structp png;
  png_infop info;
  int out_of_memory;
  int passes;
  int32_t height, width, channels;
  char error[200];
} png_reader;

static void png_on_error(png_structp png, png_const_charp message) {
  png_reader *r = png_get_error_ptr(png);
  snprintf(r->error, sizeof r->error, "%s", message);
  png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message) {
  const png_reader *r = png_get_error_ptr(png);
  pni_log(r->ctx, PNAS_LOG_DEBUG, "'%s': libpng warning: %s", r->path, message);
}

static png_voidp png_on_alloc(png_structp png, png_alloc_size_t size) {
  png_reader *r = png_get_mem_ptr(png);
  void *ptr = pni_alloc(r->ctx, size);
  if (ptr == NULL) r->out_of_memory = 1;
  return ptr;
}

static void png_on_free(png_structp png, png_voidp ptr) {
  png_reader *r = png_get_mem_ptr(png);
  pni_free(r->ctx, ptr);
}

/* Status after libpng gave up: out of memory keeps pni_alloc's message. */
static pnas_status png_failed(const png_reader *r) {
  if (r->out_of_memory) return PNAS_ERR_OUT_OF_MEMORY;
  return pni_fail(r->ctx, PNAS_ERR_FORMAT, "'%s': corrupt PNG: %s", r->path, r->error);
}

static const char *png_color_name(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      return "gray";
    case PNG_COLOR_TYPE_RGB:
      return "RGB";
    case PNG_COLOR_TYPE_PALETTE:
      return "palette";
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return "gray with alpha";
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return "RGB with alpha";
    default:
      return "unknown color type";
  }
}

/* Opens r->path and reads its header into r->height/width/channels. */
static pnas_status png_begin(png_reader *r) {
  r->f = fopen(r->path, "rb");
  if (r->f == NULL) {
    return pni_fail(r->ctx, PNAS_ERR_IO, "cannot open '%s': %s", r->path, strerror(errno));
  }
  unsigned char signature[8];
  const size_t got = fread(signature, 1, sizeof signature, r->f);
  if (ferror(r->f)) {
    return pni_fail(r->ctx, PNAS_ERR_IO, "reading '%s' failed: %s", r->path, strerror(errno));
  }
  if (got < sizeof signature || png_sig_cmp(signature, 0, sizeof signature) != 0) {
    return pni_fail(r->ctx, PNAS_ERR_FORMAT, "'%s': not a PNG file (bad signature)", r->path);
  }
  r->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, r, png_on_error, png_on_warning, r,
                                    png_on_alloc, png_on_free);
  if (r->png == NULL) {
    if (r->out_of_memory) return PNAS_ERR_OUT_OF_MEMORY;
    return pni_fail(r->ctx, PNAS_ERR_INTERNAL, "'%s': libpng could not be initialised", r->path);
  }
  if (setjmp(png_jmpbuf(r->png))) return png_failed(r);
  r->info = png_create_info_struct(r->png);
  if (r->info == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  png_init_io(r->png, r->f);
  png_set_sig_bytes(r->png, (int)sizeof signature);
  png_read_info(r->png, r->info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, color = 0;
  png_get_IHDR(r->png, r->info, &width, &height, &depth, &color, NULL, NULL, NULL);
  if (depth != 8 || (color != PNG_COLOR_TYPE_GRAY && color != PNG_COLOR_TYPE_RGB)) {
    return pni_fail(r->ctx, PNAS_ERR_FORMAT,
                    "'%s': unsupported PNG (%d-bit %s); only 8-bit gray and 8-bit RGB are "
                    "accepted",
                    r->path, depth, png_color_name(color));
  }
  if (width > PNI_DATASET_MAX_SIDE || height > PNI_DATASET_MAX_SIDE) {
    return pni_fail(r->ctx, PNAS_ERR_FORMAT, "'%s': %ux%u pixels is larger than the limit %d",
                    r->path, (unsigned)width, (unsigned)height, PNI_DATASET_MAX_SIDE);
  }
  r->height = (int32_t)height;
  r->width = (int32_t)width;
  r->channels = color == PNG_COLOR_TYPE_GRAY ? 1 : 3;
  r->passes = png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  return PNAS_OK;
}

/* Decodes the pixels into dst (height * width * channels bytes) and checks
 * the rest of the file. A new setjmp: png_begin's frame is gone. */
static pnas_status png_finish(png_reader *r, uint8_t *dst) {
  if (setjmp(png_jmpbuf(r->png))) return png_failed(r);
  const size_t row_bytes = (size_t)r->width * (size_t)r->channels;
  /* Interlaced images take several passes over the same rows, each adding
   * its pixels; a plain image takes one. */
  for (int pass = 0; pass < r->passes; pass++) {
    for (int32_t y = 0; y < r->height; y++) png_read_row(r->png, dst + (size_t)y * row_bytes, NULL);
  }
  png_read_end(r->png, NULL);
  return PNAS_OK;
}

static void png_close(png_reader *r) {
  if (r->png != NULL) png_destroy_read_struct(&r->png, r->info != NULL ? &r->info : NULL, NULL);
  if (r->f != NULL) fclose(r->f);
  r->png = NULL;
  r->info = NULL;
  r->f = NULL;
}

static const char *shape_text(char *buf, size_t cap, int32_t h, int32_t w, int32_t c) {
  snprintf(buf, cap, "%dx%d %s", (int)h, (int)w, c == 1 ? "gray" : "RGB");
  return buf;
}

/* Decodes every listed file into a new data set. */
static pnas_status decode_all(pnas_context *ctx, const char *root, char **files, size_t count,
                              const size_t *class_end, size_t classes, char *path, size_t path_cap,
                              pnas_dataset **out) {
  pnas_dataset *ds = NULL;
  pnas_status status = PNAS_OK;
  size_t k = 0;
  for (size_t i = 0; i < count && status == PNAS_OK; i++) {
    snprintf(path, path_cap, "%s/%s", root, files[i]);
    png_reader r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.path = path;
    status = png_begin(&r);
    if (status == PNAS_OK && ds == NULL) {
      status = pni_dataset_new(ctx, (int64_t)count, r.height, r.width, r.channels, (int32_t)classes,
                               &ds);
    } else if (status == PNAS_OK &&
               (r.height != ds->height || r.width != ds->width || r.channels != ds->channels)) {
      char mine[64], first[64];
      status =
          pni_fail(ctx, PNAS_ERR_FORMAT, "'%s' is %s but '%s/%s' (the first image) is %s", path,
                   shape_text(mine, sizeof mine, r.height, r.width, r.channels), root, files[0],
                   shape_text(first, sizeof first, ds->height, ds->width, ds->channels));
    }
    if (status == PNAS_OK) status = png_finish(&r, ds->images + i * pni_dataset_image_bytes(ds));
    png_close(&r);
    while (i >= class_end[k]) k++;
    if (status == PNAS_OK) ds->labels[i] = (int32_t)k;
  }
  if (status != PNAS_OK) {
    pni_dataset_free(ds);
    return status;
  }
  *out = ds;
  return PNAS_OK;
}

pnas_status pni_dataset_load_png_folder(pnas_context *ctx, const char *root, pnas_dataset **out) {
  name_list classes = {.ctx = ctx}, files = {.ctx = ctx};
  char **class_names = NULL, **file_names = NULL;
  size_t *class_end = NULL;
  char *path = NULL;
  pnas_status status = list_folder(ctx, root, NULL, 1, &classes);
  if (status != PNAS_OK) goto done;
  if (classes.count == 0) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT,
                      "'%s' holds no class folders (expected %s/<class>/<image>.png)", root, root);
    goto done;
  }
  if (classes.count > PNI_DATASET_MAX_CLASSES) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT, "'%s' holds %zu class folders; the limit is %d", root,
                      classes.count, PNI_DATASET_MAX_CLASSES);
    goto done;
  }
  class_names = name_list_pointers(&classes);
  class_end = pni_calloc(ctx, classes.count, sizeof *class_end);
  /* Long enough for root/<class>/<file>: a file name is at most d_name. */
  size_t longest_class = 0;
  for (size_t k = 0; k < classes.count && class_names != NULL; k++) {
    const size_t len = strlen(class_names[k]);
    if (len > longest_class) longest_class = len;
  }
  const size_t path_cap =
      strlen(root) + longest_class + sizeof(((struct dirent *)NULL)->d_name) + 3;
  path = pni_alloc(ctx, path_cap);
  if (class_names == NULL || class_end == NULL || path == NULL) {
    status = PNAS_ERR_OUT_OF_MEMORY;
    goto done;
  }
  qsort(class_names, classes.count, sizeof *class_names, compare_names);
  for (size_t k = 0; k < classes.count; k++) {
    snprintf(path, path_cap, "%s/%s", root, class_names[k]);
    const size_t before = files.count;
    status = list_folder(ctx, path, class_names[k], 0, &files);
    if (status != PNAS_OK) goto done;
    if (files.count == before) {
      status = pni_fail(ctx, PNAS_ERR_FORMAT,
                        "class folder '%s' holds no .png images (every class needs at least "
                        "one)",
                        path);
      goto done;
    }
    class_end[k] = files.count;
  }
  file_names = name_list_pointers(&files);
  if (file_names == NULL) {
    status = PNAS_ERR_OUT_OF_MEMORY;
    goto done;
  }
  for (size_t k = 0, begin = 0; k < classes.count; begin = class_end[k++]) {
    qsort(file_names + begin, class_end[k] - begin, sizeof *file_names, compare_names);
  }
  status =
      decode_all(ctx, root, file_names, files.count, class_end, classes.count, path, path_cap, out);
done:
  pni_free(ctx, path);
  pni_free(ctx, class_end);
  pni_free(ctx, file_names);
  pni_free(ctx, class_names);
  name_list_free(&files);
  name_list_free(&classes);
  return status;
}
