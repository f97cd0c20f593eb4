// SPDX-License-Identifier: MIT
/**
 * @file pnas.hpp
 * @brief A header-only C++17 wrapper over the libpnas C API (pnas/pnas.h).
 *
 * - One move-only RAII class per C handle: pnas::context, pnas::arch,
 *   pnas::dataset, pnas::batcher, pnas::net, pnas::space,
 *   pnas::latency_model and pnas::supernet. Each owns its handle and
 *   destroys it in its destructor; a moved-from object is empty.
 * - Every failing call throws pnas::error, which carries the ::pnas_status
 *   and the library's message (pnas_context_last_error()).
 * - pnas::view<T> is a pointer + size (a small std::span) for tensors and
 *   arrays, passed in or handed out.
 * - Options and info structs derive from the C structs and are initialised
 *   by the C init functions in their constructors, so they pass straight to
 *   the C API and keep its defaults.
 *
 * No ABI of its own: everything is inline, and the only symbols used are
 * libpnas's. Lifetimes follow the C API (docs/api-conventions.md): every
 * object must be destroyed before the context it was created from, and a
 * batcher before its data set. Declare the context first and the other
 * objects after it, and C++'s reverse destruction order does the rest.
 * docs/cpp.md has the walk-through.
 */
#ifndef PNAS_PNAS_HPP
#define PNAS_PNAS_HPP

#include <pnas/pnas.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

/** @brief The C++ wrapper of libpnas. */
namespace pnas {

// ------------------------------------------------------------------------
// Errors

/**
 * @brief Thrown by every wrapper call whose C function does not return
 *        ::PNAS_OK.
 *
 * what() is the library's message for the failure (the file, line, key or
 * argument it names), or the status name when the library has none.
 */
class error : public std::runtime_error {
 public:
  /**
   * @brief An error with a status and a message.
   * @param status The failing call's status.
   * @param message The library's message.
   */
  error(pnas_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}

  /**
   * @brief The status the C call returned.
   * @return The status.
   */
  pnas_status status() const noexcept { return status_; }

  /**
   * @brief The short static name of status(), for example "not found".
   * @return A string with static storage.
   */
  const char *status_string() const noexcept { return pnas_status_string(status_); }

 private:
  pnas_status status_;
};

/** @brief Internals of the wrapper; not part of its interface. */
namespace detail {

/**
 * @brief Throws pnas::error for a failing status.
 * @param status The C call's status; ::PNAS_OK returns.
 * @param ctx The context whose last error is the message, or NULL.
 */
inline void check(pnas_status status, const pnas_context *ctx) {
  if (status == PNAS_OK) return;
  std::string message;
  if (ctx != nullptr) message = pnas_context_last_error(ctx);
  if (message.empty()) message = pnas_status_string(status);
  throw error(status, message);
}

/**
 * @brief Converts a size to the int32_t the C API takes.
 * @param n The size.
 * @param what Its name, for the message.
 * @return @p n as int32_t.
 * @throws pnas::error ::PNAS_ERR_INVALID_ARGUMENT when @p n does not fit.
 */
inline int32_t to_i32(std::size_t n, const char *what) {
  if (n > static_cast<std::size_t>(INT32_MAX)) {
    throw error(PNAS_ERR_INVALID_ARGUMENT, std::string(what) + " is too large");
  }
  return static_cast<int32_t>(n);
}

}  // namespace detail

/**
 * @brief The static name of a status (pnas_status_string()).
 * @param status Any value.
 * @return A string with static storage.
 */
inline const char *status_string(pnas_status status) noexcept {
  return pnas_status_string(status);
}

/**
 * @brief The run-time library's version number (pnas_version()).
 * @return MAJOR * 10000 + MINOR * 100 + PATCH.
 */
inline uint32_t version() noexcept {
  return pnas_version();
}

/**
 * @brief The run-time library's version (pnas_version_string()).
 * @return "MAJOR.MINOR.PATCH", static storage.
 */
inline const char *version_string() noexcept {
  return pnas_version_string();
}

/**
 * @brief The cosine learning-rate schedule (pnas_lr_cosine()).
 * @param lr0 Initial learning rate.
 * @param t Step.
 * @param total Number of steps.
 * @return The learning rate at step @p t.
 */
inline float lr_cosine(float lr0, int64_t t, int64_t total) noexcept {
  return pnas_lr_cosine(lr0, t, total);
}

// ------------------------------------------------------------------------
// Views

/**
 * @brief A non-owning pointer + element count, like C++20's std::span.
 *
 * Build one from a pointer and a size, or from any contiguous container
 * (std::vector, std::array, a C array). A view never owns: the memory must
 * outlive it. Views the library hands out say how long they stay valid.
 * @tparam T The element type; `const T` for read-only views.
 */
template <class T>
class view {
 public:
  /** @brief Element type. */
  using element_type = T;
  /** @brief Size type. */
  using size_type = std::size_t;

  /** @brief An empty view. */
  constexpr view() noexcept = default;

  /**
   * @brief A view of @p size elements at @p data.
   * @param data First element (may be NULL when @p size is 0).
   * @param size Number of elements.
   */
  constexpr view(T *data, std::size_t size) noexcept : data_(data), size_(size) {}

  /**
   * @brief A view of a contiguous container: anything with std::data and
   *        std::size whose pointer converts to T*, a view of U included, so
   *        that a view of float converts to a view of const float.
   * @tparam C The container type.
   * @param c The container; it must outlive the view.
   */
  template <class C, class = std::enable_if_t<
                         !std::is_same_v<std::remove_cv_t<std::remove_reference_t<C>>, view> &&
                         std::is_convertible_v<decltype(std::data(std::declval<C &>())), T *>>>
  constexpr view(C &&c) noexcept : data_(std::data(c)), size_(std::size(c)) {}

  /**
   * @brief First element.
   * @return The pointer.
   */
  constexpr T *data() const noexcept { return data_; }
  /**
   * @brief Number of elements.
   * @return The count.
   */
  constexpr std::size_t size() const noexcept { return size_; }
  /**
   * @brief Whether the view has no elements.
   * @return size() == 0.
   */
  constexpr bool empty() const noexcept { return size_ == 0; }
  /**
   * @brief Element @p i (unchecked).
   * @param i Index below size().
   * @return The element.
   */
  constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
  /**
   * @brief Iterator to the first element.
   * @return data().
   */
  constexpr T *begin() const noexcept { return data_; }
  /**
   * @brief Iterator past the last element.
   * @return data() + size().
   */
  constexpr T *end() const noexcept { return data_ + size_; }
  /**
   * @brief The first @p n elements (unchecked).
   * @param n At most size().
   * @return A view of them.
   */
  constexpr view first(std::size_t n) const noexcept { return view(data_, n); }
  /**
   * @brief A copy of the elements.
   * @return A new vector.
   */
  std::vector<std::remove_const_t<T>> to_vector() const { return {begin(), end()}; }

 private:
  T *data_ = nullptr;
  std::size_t size_ = 0;
};

// ------------------------------------------------------------------------
// Options and info structs: the C structs, initialised by their C init
// functions so that struct_size and every default are set.

/** @brief pnas_context_options with its defaults. */
struct context_options : pnas_context_options {
  /** @brief Fills the defaults and this header's version. */
  context_options() : pnas_context_options() {
    detail::check(pnas_context_options_init(this), nullptr);
  }
};

/** @brief pnas_arch_info with its defaults (28x28x1, 10 classes, ...). */
struct arch_info : pnas_arch_info {
  /** @brief Fills the defaults. */
  arch_info() : pnas_arch_info() { detail::check(pnas_arch_info_init(this), nullptr); }
};

/** @brief pnas_block_info with its defaults (MBConv, kernel 3, expand 1, stride 1). */
struct block_info : pnas_block_info {
  /** @brief Fills the defaults. */
  block_info() : pnas_block_info() { detail::check(pnas_block_info_init(this), nullptr); }
};

/** @brief pnas_dataset_info, with struct_size set. */
struct dataset_info : pnas_dataset_info {
  /** @brief Zeroes the members and sets struct_size. */
  dataset_info() : pnas_dataset_info() { struct_size = sizeof(pnas_dataset_info); }
};

/** @brief pnas_batcher_options with its defaults (batch 64, shuffled). */
struct batcher_options : pnas_batcher_options {
  /** @brief Fills the defaults. */
  batcher_options() : pnas_batcher_options() {
    detail::check(pnas_batcher_options_init(this), nullptr);
  }
};

/** @brief pnas_net_options with its defaults. */
struct net_options : pnas_net_options {
  /** @brief Fills the defaults. */
  net_options() : pnas_net_options() { detail::check(pnas_net_options_init(this), nullptr); }
};

/** @brief pnas_sgd_options with its defaults (lr 0.05, Nesterov 0.9, ...). */
struct sgd_options : pnas_sgd_options {
  /** @brief Fills the defaults. */
  sgd_options() : pnas_sgd_options() { detail::check(pnas_sgd_options_init(this), nullptr); }
};

/** @brief pnas_step_stats, with struct_size set. */
struct step_stats : pnas_step_stats {
  /** @brief Zeroes the members and sets struct_size. */
  step_stats() : pnas_step_stats() { struct_size = sizeof(pnas_step_stats); }
};

/** @brief pnas_space_info with its defaults (the paper's ImageNet space). */
struct space_info : pnas_space_info {
  /** @brief Fills the defaults. */
  space_info() : pnas_space_info() { detail::check(pnas_space_info_init(this), nullptr); }
};

/** @brief pnas_profile_options with its defaults. */
struct profile_options : pnas_profile_options {
  /** @brief Fills the defaults. */
  profile_options() : pnas_profile_options() {
    detail::check(pnas_profile_options_init(this), nullptr);
  }
};

/** @brief pnas_supernet_options with its defaults. */
struct supernet_options : pnas_supernet_options {
  /** @brief Fills the defaults. */
  supernet_options() : pnas_supernet_options() {
    detail::check(pnas_supernet_options_init(this), nullptr);
  }
};

/** @brief pnas_search_options with its defaults (full_v2, no latency term). */
struct search_options : pnas_search_options {
  /** @brief Fills the defaults. */
  search_options() : pnas_search_options() {
    detail::check(pnas_search_options_init(this), nullptr);
  }
};

/** @brief pnas_search_stats, with struct_size set. */
struct search_stats : pnas_search_stats {
  /** @brief Zeroes the members and sets struct_size. */
  search_stats() : pnas_search_stats() { struct_size = sizeof(pnas_search_stats); }
};

/** @brief pnas_supernet_info, with struct_size set. */
struct supernet_info : pnas_supernet_info {
  /** @brief Zeroes the members and sets struct_size. */
  supernet_info() : pnas_supernet_info() { struct_size = sizeof(pnas_supernet_info); }
};

/** @brief A candidate op (the C struct; `{PNAS_OP_MBCONV, 3, 6}`). */
using op_spec = pnas_op_spec;

// ------------------------------------------------------------------------
// The handle base

namespace detail {

/**
 * @brief Unique ownership of one C handle plus the (borrowed) context that
 *        holds its error messages.
 * @tparam T The C handle type.
 * @tparam Destroy Its destroy function.
 */
template <class T, void (*Destroy)(T *)>
class handle {
 public:
  /** @brief Not copyable: ownership is unique. */
  handle(const handle &) = delete;
  /** @brief Not copyable: ownership is unique. */
  handle &operator=(const handle &) = delete;

  /**
   * @brief The C handle, still owned by this object.
   * @return The handle, or NULL when empty.
   */
  T *get() const noexcept { return ptr_; }
  /**
   * @brief Whether the object holds a handle.
   * @return False when empty (default-constructed, moved from, released).
   */
  explicit operator bool() const noexcept { return ptr_ != nullptr; }
  /**
   * @brief Gives up ownership.
   * @return The handle, which the caller now destroys; the object becomes empty.
   */
  T *release() noexcept {
    ctx_ = nullptr;
    return std::exchange(ptr_, nullptr);
  }
  /** @brief Destroys the handle now; the object becomes empty. */
  void reset() noexcept {
    if (ptr_ != nullptr) Destroy(ptr_);
    ptr_ = nullptr;
    ctx_ = nullptr;
  }
  /**
   * @brief The context whose last error describes this object's failures.
   * @return The borrowed C context, or NULL when empty.
   */
  pnas_context *context_handle() const noexcept { return ctx_; }

 protected:
  /** @brief Empty. */
  handle() noexcept = default;
  /**
   * @brief Owns a handle.
   * @param ptr The C handle.
   * @param ctx The context it was created from (borrowed).
   */
  handle(T *ptr, pnas_context *ctx) noexcept : ptr_(ptr), ctx_(ctx) {}
  /**
   * @brief Takes another object's handle.
   * @param other Becomes empty.
   */
  handle(handle &&other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), ctx_(std::exchange(other.ctx_, nullptr)) {}
  /**
   * @brief Destroys the current handle, then takes another's.
   * @param other Becomes empty.
   * @return This object.
   */
  handle &operator=(handle &&other) noexcept {
    if (this != &other) {
      reset();
      ptr_ = std::exchange(other.ptr_, nullptr);
      ctx_ = std::exchange(other.ctx_, nullptr);
    }
    return *this;
  }
  /** @brief Releases the handle. */
  ~handle() { reset(); }
  /**
   * @brief Destroys the current handle, then owns another.
   * @param ptr The C handle.
   * @param ctx The context it was created from (borrowed).
   */
  void adopt(T *ptr, pnas_context *ctx) noexcept {
    reset();
    ptr_ = ptr;
    ctx_ = ctx;
  }
  /**
   * @brief Throws pnas::error with this object's context's message.
   * @param status The C call's status; ::PNAS_OK returns.
   */
  void check(pnas_status status) const { detail::check(status, ctx_); }

 private:
  T *ptr_ = nullptr;
  pnas_context *ctx_ = nullptr;
};

}  // namespace detail

// ------------------------------------------------------------------------
// Context

/**
 * @brief The root object (pnas_context): allocator, threads, seed, logging
 *        and the last error. Create it first, destroy it last.
 *
 * Moving a context keeps the C handle, so objects created from it stay valid.
 * Used by one thread at a time, with everything created from it.
 */
class context : public detail::handle<pnas_context, pnas_context_destroy> {
 public:
  /** @brief Receives log messages: the level and a line valid during the call. */
  using log_function = std::function<void(pnas_log_level, const char *)>;

  /**
   * @brief Creates a context.
   * @param options Threads, seed, allocator, log settings.
   * @throws pnas::error with the creation message (ABI mismatch, bad option).
   */
  explicit context(const context_options &options = context_options()) { create(options); }

  /**
   * @brief Creates a context whose log messages go to @p log (up to
   *        options.log_level). options.log_fn and log_user are replaced.
   * @param options Threads, seed, allocator, log level.
   * @param log Called with each message; must not throw (an exception is
   *        swallowed: it cannot cross the C library).
   */
  context(const context_options &options, log_function log)
      : log_(std::make_unique<log_function>(std::move(log))) {
    context_options o = options;
    o.log_fn = &context::log_trampoline;
    o.log_user = log_.get();
    create(o);
  }

  /**
   * @brief Moves the handle and the log callback.
   * @param other Becomes empty.
   */
  context(context &&other) noexcept = default;
  /**
   * @brief Destroys this context, then takes another's handle and log callback.
   * @param other Becomes empty.
   * @return This object.
   */
  context &operator=(context &&other) noexcept {
    if (this != &other) {
      reset();
      handle::operator=(std::move(other));
      log_ = std::move(other.log_);
    }
    return *this;
  }
  /** @brief Destroys the context (every object created from it must be gone). */
  ~context() { reset(); }

  /**
   * @brief The message of the last failed call (pnas_context_last_error()).
   * @return A copy of the message; "" if nothing failed.
   */
  std::string last_error() const { return pnas_context_last_error(get()); }
  /**
   * @brief The status of the last failed call.
   * @return ::PNAS_OK if nothing failed.
   */
  pnas_status last_status() const noexcept { return pnas_context_last_status(get()); }

  /**
   * @brief Threads used by the kernels.
   * @return The thread count.
   */
  int32_t threads() const {
    int32_t n = 0;
    check(pnas_context_get_threads(get(), &n));
    return n;
  }
  /**
   * @brief Changes the thread count for later calls.
   * @param threads At least 1.
   */
  void set_threads(int32_t threads) { check(pnas_context_set_threads(get(), threads)); }
  /**
   * @brief Re-seeds the generator.
   * @param seed Any value.
   */
  void set_seed(uint64_t seed) { check(pnas_context_set_seed(get(), seed)); }

  /**
   * @brief The generator's state, for checkpoints.
   * @return 4 words.
   */
  std::vector<uint64_t> rng_state() const {
    std::vector<uint64_t> state(4);
    check(pnas_context_get_rng_state(get(), state.data()));
    return state;
  }
  /**
   * @brief Restores a state from rng_state().
   * @param state Exactly 4 words, not all zero.
   */
  void set_rng_state(view<const uint64_t> state) {
    if (state.size() != 4) throw error(PNAS_ERR_INVALID_ARGUMENT, "rng state: 4 words expected");
    check(pnas_context_set_rng_state(get(), state.data()));
  }

  /**
   * @brief The build and settings (pnas_context_describe()).
   * @return `key: value` lines.
   */
  std::string describe() {
    char *text = nullptr;
    check(pnas_context_describe(get(), &text));
    const std::unique_ptr<char, void (*)(void *)> owned(text, pnas_free);
    return std::string(text);
  }

 private:
  void create(const pnas_context_options &options) {
    pnas_context *ctx = nullptr;
    char message[512] = "";
    const pnas_status status = pnas_context_create(&options, &ctx, message, sizeof message);
    if (status != PNAS_OK) {
      throw error(status, message[0] != '\0' ? message : pnas_status_string(status));
    }
    adopt(ctx, ctx);
  }

  static void log_trampoline(void *user, pnas_log_level level, const char *message) {
    try {
      (*static_cast<log_function *>(user))(level, message);
    } catch (...) {  // cannot unwind through C
    }
  }

  // Heap-allocated so that its address, given to the library, survives moves.
  std::unique_ptr<log_function> log_;
};

// ------------------------------------------------------------------------
// Architectures

/**
 * @brief A fixed network architecture (pnas_arch): stem, blocks, head,
 *        classifier. Loaded, imported, built block by block or derived.
 */
class arch : public detail::handle<pnas_arch, pnas_arch_destroy> {
 public:
  /** @brief An empty object. */
  arch() noexcept = default;

  /**
   * @brief An architecture with no blocks yet.
   * @param ctx The context.
   * @param info Input shape, classes, stem, head, dropout.
   */
  arch(context &ctx, const arch_info &info) : handle(nullptr, ctx.get()) {
    pnas_arch *a = nullptr;
    check(pnas_arch_create(ctx.get(), &info, &a));
    adopt(a, ctx.get());
  }

  /**
   * @brief Takes ownership of a C handle.
   * @param a The architecture.
   * @param ctx The context it was created from.
   */
  arch(pnas_arch *a, pnas_context *ctx) noexcept : handle(a, ctx) {}

  /**
   * @brief Loads an architecture YAML file.
   * @param ctx The context.
   * @param path File name.
   * @return The architecture.
   */
  static arch load_yaml(context &ctx, const std::string &path) {
    pnas_arch *a = nullptr;
    detail::check(pnas_arch_load_yaml(ctx.get(), path.c_str(), &a), ctx.get());
    return arch(a, ctx.get());
  }

  /**
   * @brief Parses architecture YAML text.
   * @param ctx The context.
   * @param text The document.
   * @return The architecture.
   */
  static arch parse_yaml(context &ctx, std::string_view text) {
    pnas_arch *a = nullptr;
    detail::check(pnas_arch_parse_yaml(ctx.get(), text.data(), text.size(), &a), ctx.get());
    return arch(a, ctx.get());
  }

  /**
   * @brief Imports an official ProxylessNAS net.config JSON.
   * @param ctx The context.
   * @param path File name.
   * @param input_height Input image height (net.config does not record it).
   * @param input_width Input image width.
   * @return The architecture.
   */
  static arch import_net_config(context &ctx, const std::string &path, int32_t input_height,
                                int32_t input_width) {
    pnas_arch *a = nullptr;
    detail::check(
        pnas_arch_import_net_config(ctx.get(), path.c_str(), input_height, input_width, &a),
        ctx.get());
    return arch(a, ctx.get());
  }

  /**
   * @brief Appends a block after the last one.
   * @param block Kind, out_channels, kernel, expand and stride are used.
   */
  void append_block(const block_info &block) { check(pnas_arch_append_block(get(), &block)); }
  /**
   * @brief Saves as YAML, atomically.
   * @param path File name.
   */
  void save_yaml(const std::string &path) const { check(pnas_arch_save_yaml(get(), path.c_str())); }
  /**
   * @brief Writes an official net.config JSON, atomically.
   * @param path File name.
   */
  void export_net_config(const std::string &path) const {
    check(pnas_arch_export_net_config(get(), path.c_str()));
  }
  /**
   * @brief Whole-network settings and totals.
   * @return Input, stem, head, blocks, MACs and parameters.
   */
  arch_info info() const {
    arch_info info;
    check(pnas_arch_get_info(get(), &info));
    return info;
  }
  /**
   * @brief One block with its computed shape, MACs and parameters.
   * @param index 0 <= index < info().blocks.
   * @return The block.
   */
  block_info block(int32_t index) const {
    block_info b;
    check(pnas_arch_get_block(get(), index, &b));
    return b;
  }
  /**
   * @brief Every block, in order.
   * @return A copy of each block's info.
   */
  std::vector<block_info> blocks() const {
    const int32_t n = info().blocks;
    std::vector<block_info> result;
    result.reserve(static_cast<std::size_t>(n));
    for (int32_t i = 0; i < n; i++) result.push_back(block(i));
    return result;
  }
};

// ------------------------------------------------------------------------
// Data sets and batchers

/** @brief A labelled image set held as 8-bit NHWC (pnas_dataset). */
class dataset : public detail::handle<pnas_dataset, pnas_dataset_destroy> {
 public:
  /** @brief An empty object. */
  dataset() noexcept = default;
  /**
   * @brief Takes ownership of a C handle.
   * @param d The data set.
   * @param ctx The context it was created from.
   */
  dataset(pnas_dataset *d, pnas_context *ctx) noexcept : handle(d, ctx) {}

  /**
   * @brief Loads an IDX image file and its IDX label file (plain or gzip).
   * @param ctx The context.
   * @param images_path Images, N x H x W or N x H x W x C bytes.
   * @param labels_path Labels, N bytes.
   * @return The data set.
   */
  static dataset load_idx(context &ctx, const std::string &images_path,
                          const std::string &labels_path) {
    pnas_dataset *d = nullptr;
    detail::check(pnas_dataset_load_idx(ctx.get(), images_path.c_str(), labels_path.c_str(), &d),
                  ctx.get());
    return dataset(d, ctx.get());
  }

  /**
   * @brief Loads `root/<class>/<image>.png`.
   * @param ctx The context.
   * @param root The folder of class folders.
   * @return The data set.
   */
  static dataset load_png_folder(context &ctx, const std::string &root) {
    pnas_dataset *d = nullptr;
    detail::check(pnas_dataset_load_png_folder(ctx.get(), root.c_str(), &d), ctx.get());
    return dataset(d, ctx.get());
  }

  /**
   * @brief Copies images and labels from memory.
   * @param ctx The context.
   * @param images labels.size() x height x width x channels bytes, NHWC.
   * @param labels One label per image, in [0, classes).
   * @param height Image height.
   * @param width Image width.
   * @param channels Image channels.
   * @param classes Number of classes.
   * @return The data set.
   * @throws pnas::error ::PNAS_ERR_SHAPE if the sizes disagree.
   */
  static dataset from_memory(context &ctx, view<const uint8_t> images, view<const int32_t> labels,
                             int32_t height, int32_t width, int32_t channels, int32_t classes) {
    const std::size_t per_image = static_cast<std::size_t>(height < 0 ? 0 : height) *
                                  static_cast<std::size_t>(width < 0 ? 0 : width) *
                                  static_cast<std::size_t>(channels < 0 ? 0 : channels);
    if (images.size() != per_image * labels.size()) {
      throw error(PNAS_ERR_SHAPE,
                  "dataset::from_memory: images.size() is not labels.size() x "
                  "height x width x channels");
    }
    pnas_dataset *d = nullptr;
    detail::check(pnas_dataset_create_from_memory(ctx.get(), images.data(), labels.data(),
                                                  static_cast<int64_t>(labels.size()), height,
                                                  width, channels, classes, &d),
                  ctx.get());
    return dataset(d, ctx.get());
  }

  /** @brief The two parts of split_balanced(). */
  struct split;

  /**
   * @brief Splits off a class-balanced held-out set; this data set is unchanged.
   * @param per_class Held-out images per class, less than the smallest class.
   * @return The remaining images and the held-out ones, both new data sets.
   */
  inline split split_balanced(int32_t per_class);

  /**
   * @brief A copy of images [offset, offset + count).
   * @param offset First image.
   * @param count Number of images.
   * @return The new data set.
   */
  dataset subset(int64_t offset, int64_t count) {
    pnas_dataset *d = nullptr;
    check(pnas_dataset_subset(get(), offset, count, &d));
    return dataset(d, context_handle());
  }

  /**
   * @brief Shape and size.
   * @return Count, image shape and classes.
   */
  dataset_info info() const {
    dataset_info info;
    check(pnas_dataset_get_info(get(), &info));
    return info;
  }
};

/** @brief The remaining and the held-out images of dataset::split_balanced(). */
struct dataset::split {
  dataset rest;     /**< Every image not held out, in the original order. */
  dataset held_out; /**< per_class images of every class. */
};

inline dataset::split dataset::split_balanced(int32_t per_class) {
  pnas_dataset *rest = nullptr, *held = nullptr;
  check(pnas_dataset_split_balanced(get(), per_class, &rest, &held));
  return split{dataset(rest, context_handle()), dataset(held, context_handle())};
}

/**
 * @brief A batch from batcher::next_view() or batcher::next_batch(): views
 *        into the batcher's buffers, valid until its next call or destruction.
 */
struct batch {
  view<const float> images;   /**< count x H x W x C floats, NHWC. */
  view<const int32_t> labels; /**< count labels. */
  int32_t count = 0;          /**< Images in the batch; 0 at the end of an epoch. */
};

/**
 * @brief Float32 NHWC batches over a data set (pnas_batcher). Borrows the
 *        data set: destroy the batcher first.
 */
class batcher : public detail::handle<pnas_batcher, pnas_batcher_destroy> {
 public:
  /** @brief An empty object. */
  batcher() noexcept = default;

  /**
   * @brief A batcher over a data set.
   * @param data The data set; it must outlive the batcher.
   * @param options Batch size, shuffling, augmentation, normalisation.
   */
  explicit batcher(dataset &data, const batcher_options &options = batcher_options())
      : handle(nullptr, data.context_handle()) {
    const dataset_info info = data.info();
    pnas_batcher *b = nullptr;
    check(pnas_batcher_create(data.get(), &options, &b));
    adopt(b, data.context_handle());
    image_floats_ = static_cast<std::size_t>(info.height) * static_cast<std::size_t>(info.width) *
                    static_cast<std::size_t>(info.channels);
    batch_size_ = options.batch_size;
  }

  /** @brief Moves the handle; the source becomes empty. */
  batcher(batcher &&) noexcept = default;
  /**
   * @brief Destroys this batcher, then takes another's handle.
   * @return This object.
   */
  batcher &operator=(batcher &&) noexcept = default;
  /** @brief Destroys the batcher. */
  ~batcher() = default;

  /**
   * @brief Images per full batch.
   * @return options.batch_size at creation.
   */
  int32_t batch_size() const noexcept { return batch_size_; }
  /**
   * @brief Floats per image.
   * @return H x W x C.
   */
  std::size_t image_floats() const noexcept { return image_floats_; }

  /**
   * @brief Writes the next batch into caller buffers (pnas_batcher_next()).
   * @param images Room for batch_size() x image_floats() floats.
   * @param labels Room for batch_size() labels.
   * @return The number of images written; 0 at the end of an epoch.
   */
  int32_t next(view<float> images, view<int32_t> labels) {
    const std::size_t n = static_cast<std::size_t>(batch_size_);
    if (images.size() < n * image_floats_ || labels.size() < n) {
      throw error(PNAS_ERR_SHAPE, "batcher::next: buffers smaller than one batch");
    }
    int32_t count = 0;
    check(pnas_batcher_next(get(), images.data(), labels.data(), &count));
    return count;
  }

  /**
   * @brief The next batch, in the batcher's own buffers.
   * @return Views valid until the batcher's next call; count 0 at the end of an epoch.
   */
  batch next_view() {
    const float *x = nullptr;
    const int32_t *y = nullptr;
    int32_t count = 0;
    check(pnas_batcher_next_view(get(), &x, &y, &count));
    const std::size_t n = static_cast<std::size_t>(count);
    return batch{view<const float>(x, n * image_floats_), view<const int32_t>(y, n), count};
  }

  /**
   * @brief Like next_view(), but starts the next epoch instead of returning an
   *        empty batch.
   * @return Views valid until the batcher's next call.
   */
  batch next_batch() {
    batch b = next_view();
    if (b.count == 0) b = next_view();
    return b;
  }

  /**
   * @brief Restarts the epoch, in the same order when not shuffling
   *        (pnas_batcher_reset(); named so as not to hide reset(), which
   *        destroys the handle).
   */
  void restart() { check(pnas_batcher_reset(get())); }

  /**
   * @brief Position, order and generator, for checkpoints.
   * @return The serialised state.
   */
  std::vector<uint8_t> state() const {
    std::size_t size = 0;
    check(pnas_batcher_get_state(get(), nullptr, 0, &size));
    std::vector<uint8_t> buffer(size);
    check(pnas_batcher_get_state(get(), buffer.data(), buffer.size(), &size));
    return buffer;
  }
  /**
   * @brief Restores a state from state() of a batcher over a data set of the same size.
   * @param state The bytes.
   */
  void set_state(view<const uint8_t> state) {
    check(pnas_batcher_set_state(get(), state.data(), state.size()));
  }

 private:
  std::size_t image_floats_ = 0;
  int32_t batch_size_ = 0;
};

// ------------------------------------------------------------------------
// Networks

/** @brief A trainable network built from an architecture (pnas_net). */
class net : public detail::handle<pnas_net, pnas_net_destroy> {
 public:
  /** @brief An empty object. */
  net() noexcept = default;
  /**
   * @brief Takes ownership of a C handle.
   * @param n The network.
   * @param ctx The context it was created from.
   */
  net(pnas_net *n, pnas_context *ctx) noexcept : handle(n, ctx) {}

  /**
   * @brief Builds a network (fresh weights from the context's generator).
   * @param ctx The context.
   * @param a The architecture (copied; it may be destroyed afterwards).
   * @param options Largest batch, BN settings, dropout.
   */
  net(context &ctx, const arch &a, const net_options &options = net_options())
      : handle(nullptr, ctx.get()) {
    pnas_net *n = nullptr;
    check(pnas_net_create(ctx.get(), a.get(), &options, &n));
    adopt(n, ctx.get());
  }

  /**
   * @brief Loads a network saved by save().
   * @param ctx The context.
   * @param path File name.
   * @param options Largest batch, BN settings, dropout.
   * @return The network.
   */
  static net load(context &ctx, const std::string &path,
                  const net_options &options = net_options()) {
    pnas_net *n = nullptr;
    detail::check(pnas_net_load(ctx.get(), path.c_str(), &options, &n), ctx.get());
    return net(n, ctx.get());
  }

  /**
   * @brief Sets the optimizer's options, from the next step.
   * @param options SGD options.
   */
  void set_sgd(const sgd_options &options) { check(pnas_net_set_sgd(get(), &options)); }
  /**
   * @brief Changes the learning rate.
   * @param lr Finite, >= 0.
   */
  void set_lr(float lr) { check(pnas_net_set_lr(get(), lr)); }

  /**
   * @brief One SGD step on a batch in training mode.
   * @param images labels.size() x H x W x C floats.
   * @param labels The labels; their count is the batch size.
   * @return Loss and accuracy before the update.
   */
  step_stats train_step(view<const float> images, view<const int32_t> labels) {
    step_stats stats;
    check(pnas_net_train_step(get(), images.data(), labels.data(),
                              detail::to_i32(labels.size(), "batch"), &stats));
    return stats;
  }
  /**
   * @brief One SGD step on a batch from a batcher.
   * @param b The batch.
   * @return Loss and accuracy before the update.
   */
  step_stats train_step(const batch &b) { return train_step(b.images, b.labels); }

  /**
   * @brief Logits in evaluation mode.
   * @param images batch_size x H x W x C floats.
   * @param batch_size Number of images.
   * @param logits Room for batch_size x classes floats (out).
   */
  void infer(view<const float> images, int32_t batch_size, view<float> logits) {
    check(pnas_net_infer(get(), images.data(), batch_size, logits.data()));
  }

  /**
   * @brief Loss and accuracy over a data set, bytes scaled to [0, 1].
   * @param data Images of the network's input shape.
   * @return Plain cross-entropy and top-1 accuracy.
   */
  step_stats evaluate(dataset &data) {
    step_stats stats;
    check(pnas_net_evaluate(get(), data.get(), nullptr, &stats));
    return stats;
  }
  /**
   * @brief Loss and accuracy over a data set, normalised like a batcher.
   * @param data Images of the network's input shape.
   * @param normalization Its mean and std are used.
   * @return Plain cross-entropy and top-1 accuracy.
   */
  step_stats evaluate(dataset &data, const batcher_options &normalization) {
    step_stats stats;
    check(pnas_net_evaluate(get(), data.get(), &normalization, &stats));
    return stats;
  }

  /**
   * @brief Saves weights, BN statistics and optimizer state, atomically.
   * @param path File name.
   */
  void save(const std::string &path) const { check(pnas_net_save(get(), path.c_str())); }

  /**
   * @brief A copy of the network's architecture.
   * @return A new architecture.
   */
  arch get_arch() const {
    pnas_arch *a = nullptr;
    check(pnas_net_get_arch(get(), &a));
    return arch(a, context_handle());
  }
};

// ------------------------------------------------------------------------
// Search spaces

/** @brief One searched layer of a space: its shape and its candidates. */
struct layer_info {
  block_info shape;         /**< In/out channels and sizes, stride, residual. */
  std::vector<op_spec> ops; /**< The candidates, in order. */
};

/** @brief A search space (pnas_space). */
class space : public detail::handle<pnas_space, pnas_space_destroy> {
 public:
  /** @brief An empty object. */
  space() noexcept = default;
  /**
   * @brief Takes ownership of a C handle.
   * @param s The space.
   * @param ctx The context it was created from.
   */
  space(pnas_space *s, pnas_context *ctx) noexcept : handle(s, ctx) {}

  /**
   * @brief A space with the given fixed parts and no stages yet.
   * @param ctx The context.
   * @param info Input, classes, stem, first block, head, dropout.
   */
  space(context &ctx, const space_info &info) : handle(nullptr, ctx.get()) {
    pnas_space *s = nullptr;
    check(pnas_space_create(ctx.get(), &info, &s));
    adopt(s, ctx.get());
  }

  /**
   * @brief The paper's ImageNet space.
   * @param ctx The context.
   * @return The space.
   */
  static space create_default(context &ctx) {
    pnas_space *s = nullptr;
    detail::check(pnas_space_create_default(ctx.get(), &s), ctx.get());
    return space(s, ctx.get());
  }
  /**
   * @brief Loads a space YAML file.
   * @param ctx The context.
   * @param path File name.
   * @return The space.
   */
  static space load_yaml(context &ctx, const std::string &path) {
    pnas_space *s = nullptr;
    detail::check(pnas_space_load_yaml(ctx.get(), path.c_str(), &s), ctx.get());
    return space(s, ctx.get());
  }
  /**
   * @brief Parses space YAML text.
   * @param ctx The context.
   * @param text The document.
   * @return The space.
   */
  static space parse_yaml(context &ctx, std::string_view text) {
    pnas_space *s = nullptr;
    detail::check(pnas_space_parse_yaml(ctx.get(), text.data(), text.size(), &s), ctx.get());
    return space(s, ctx.get());
  }

  /**
   * @brief Appends a stage (see pnas_space_add_stage()).
   * @param width Output channels.
   * @param depth Number of layers.
   * @param stride Stride of the first layer.
   * @param ops Candidate ops.
   * @param zero_on_first false: drop zero from a first layer without a
   *        residual; true: that is an error.
   */
  void add_stage(int32_t width, int32_t depth, int32_t stride, view<const op_spec> ops,
                 bool zero_on_first = false) {
    check(pnas_space_add_stage(get(), width, depth, stride, ops.data(),
                               detail::to_i32(ops.size(), "ops"), zero_on_first ? 1 : 0));
  }

  /**
   * @brief Saves as YAML, atomically.
   * @param path File name.
   */
  void save_yaml(const std::string &path) const {
    check(pnas_space_save_yaml(get(), path.c_str()));
  }
  /**
   * @brief The fixed parts and totals.
   * @return Input, stem, head, stage and layer counts.
   */
  space_info info() const {
    space_info info;
    check(pnas_space_get_info(get(), &info));
    return info;
  }
  /**
   * @brief One searched layer.
   * @param index 0 <= index < info().layers.
   * @return Its shape and candidates.
   */
  layer_info layer(int32_t index) const {
    layer_info result;
    int32_t count = 0;
    check(pnas_space_get_layer(get(), index, &result.shape, nullptr, 0, &count));
    result.ops.resize(static_cast<std::size_t>(count));
    check(pnas_space_get_layer(get(), index, &result.shape, result.ops.data(), count, &count));
    return result;
  }
};

// ------------------------------------------------------------------------
// Latency models

/**
 * @brief Prices a part of a network in ms, for latency_model::from_callback.
 *        Throwing (anything) means "cannot price": the library call fails
 *        with ::PNAS_ERR_NOT_FOUND naming the query's key.
 */
using latency_function = std::function<double(const pnas_latency_query &)>;

/** @brief What a network costs on the target device (pnas_latency_model). */
class latency_model : public detail::handle<pnas_latency_model, pnas_latency_model_destroy> {
 public:
  /** @brief An empty object. */
  latency_model() noexcept = default;
  /**
   * @brief Takes ownership of a C handle.
   * @param m The model.
   * @param ctx The context it was created from.
   */
  latency_model(pnas_latency_model *m, pnas_context *ctx) noexcept : handle(m, ctx) {}

  /** @brief Moves the handle and the callback; the source becomes empty. */
  latency_model(latency_model &&) noexcept = default;
  /**
   * @brief Destroys this model, then takes another's handle and callback.
   * @param other Becomes empty.
   * @return This object.
   */
  latency_model &operator=(latency_model &&other) noexcept {
    if (this != &other) {
      reset();  // the C model first: it may still point at fn_
      handle::operator=(std::move(other));
      fn_ = std::move(other.fn_);
    }
    return *this;
  }
  /** @brief Destroys the model, then its callback. */
  ~latency_model() { reset(); }

  /**
   * @brief Loads a latency table in the official ProxylessNAS YAML format.
   * @param ctx The context.
   * @param path File name.
   * @return The model.
   */
  static latency_model load_table(context &ctx, const std::string &path) {
    pnas_latency_model *m = nullptr;
    detail::check(pnas_latency_model_load_table(ctx.get(), path.c_str(), &m), ctx.get());
    return latency_model(m, ctx.get());
  }

  /**
   * @brief A model proportional to MACs.
   * @param ctx The context.
   * @param ms_per_mmac Milliseconds per million MACs, > 0.
   * @return The model.
   */
  static latency_model from_macs(context &ctx, double ms_per_mmac) {
    pnas_latency_model *m = nullptr;
    detail::check(pnas_latency_model_create_macs(ctx.get(), ms_per_mmac, &m), ctx.get());
    return latency_model(m, ctx.get());
  }

  /**
   * @brief A model that asks a host function, which it keeps until destroyed.
   * @param ctx The context.
   * @param fn Returns the cost in ms (finite, >= 0) of a query; throws when it
   *        cannot price it.
   * @return The model.
   */
  static latency_model from_callback(context &ctx, latency_function fn) {
    auto owned = std::make_unique<latency_function>(std::move(fn));
    pnas_latency_model *m = nullptr;
    detail::check(
        pnas_latency_model_create_callback(ctx.get(), &latency_model::trampoline, owned.get(), &m),
        ctx.get());
    latency_model model(m, ctx.get());
    model.fn_ = std::move(owned);
    return model;
  }

  /**
   * @brief Measures a latency table for a space on this machine.
   * @param ctx The context (its threads are used).
   * @param s The space.
   * @param options Batch, warm-up runs and repeats.
   * @return A table model.
   */
  static latency_model profile(context &ctx, const space &s,
                               const profile_options &options = profile_options()) {
    pnas_latency_model *m = nullptr;
    detail::check(pnas_latency_model_profile(ctx.get(), s.get(), &options, &m), ctx.get());
    return latency_model(m, ctx.get());
  }

  /**
   * @brief The latency of a whole architecture.
   * @param a The architecture.
   * @return Milliseconds.
   */
  double arch_latency(const arch &a) {
    double ms = 0.0;
    check(pnas_latency_model_arch_latency(get(), a.get(), &ms));
    return ms;
  }
  /**
   * @brief The latency of one block.
   * @param block Kind, channels, kernel, expand, stride and input size are used.
   * @return Milliseconds.
   */
  double block_latency(const block_info &block) {
    double ms = 0.0;
    check(pnas_latency_model_block_latency(get(), &block, &ms));
    return ms;
  }
  /**
   * @brief Writes a table model in the official YAML format, atomically.
   * @param path File name.
   */
  void save_table(const std::string &path) const {
    check(pnas_latency_model_save_table(get(), path.c_str()));
  }

 private:
  static int trampoline(void *user, const pnas_latency_query *query, double *out_ms) {
    try {
      *out_ms = (*static_cast<latency_function *>(user))(*query);
      return 0;
    } catch (...) {  // cannot unwind through C: the library reports the key
      return 1;
    }
  }

  std::unique_ptr<latency_function> fn_;
};

// ------------------------------------------------------------------------
// Supernet and search

/** @brief What supernet::alpha() reads. */
enum class alpha_kind : int32_t {
  logits = 0,       /**< alpha itself. */
  gradient = 1,     /**< dLoss/dalpha of the last arch step or arch_gradient(). */
  probabilities = 2 /**< softmax(alpha). */
};

/** @brief How supernet::forward() treats batch normalisation. */
enum class forward_mode : int32_t {
  eval = 0,       /**< Running statistics. */
  train = 1,      /**< Batch statistics, running ones updated; needed before backward(). */
  batch_stats = 2 /**< Batch statistics, running ones untouched. */
};

/** @brief Views of every weight and gradient of a supernet (supernet::parameters()). */
struct parameter_views {
  view<float> params; /**< The weights. */
  view<float> grads;  /**< Their gradients, same size. */
};

/**
 * @brief The supernet of a space with its architecture logits alpha
 *        (pnas_supernet). The host drives the search with train_step(),
 *        arch_step(), prune() and derive(), or the low-level calls.
 */
class supernet : public detail::handle<pnas_supernet, pnas_supernet_destroy> {
 public:
  /** @brief An empty object. */
  supernet() noexcept = default;
  /**
   * @brief Takes ownership of a C handle.
   * @param s The supernet.
   * @param ctx The context it was created from.
   */
  supernet(pnas_supernet *s, pnas_context *ctx) noexcept : handle(s, ctx) {}

  /**
   * @brief Builds a supernet (weights and alpha from the context's generator).
   * @param ctx The context.
   * @param s The space (copied).
   * @param options Largest batch, BN settings, initial alpha spread.
   */
  supernet(context &ctx, const space &s, const supernet_options &options = supernet_options())
      : handle(nullptr, ctx.get()) {
    pnas_supernet *sn = nullptr;
    check(pnas_supernet_create(ctx.get(), s.get(), &options, &sn));
    adopt(sn, ctx.get());
  }

  /**
   * @brief Loads a checkpoint written by save().
   * @param ctx The context (its generator continues from the stored state).
   * @param path File name.
   * @param max_batch Largest batch, or 0 for the stored one.
   * @param host_data Receives the stored host bytes; may be NULL.
   * @return The supernet.
   */
  static supernet load(context &ctx, const std::string &path, int32_t max_batch = 0,
                       std::vector<uint8_t> *host_data = nullptr) {
    pnas_supernet *sn = nullptr;
    void *data = nullptr;
    std::size_t size = 0;
    detail::check(pnas_supernet_load(ctx.get(), path.c_str(), max_batch, &sn, &data, &size),
                  ctx.get());
    supernet result(sn, ctx.get());
    const std::unique_ptr<void, void (*)(void *)> owned(data, pnas_free);
    if (host_data != nullptr) {
      const uint8_t *bytes = static_cast<const uint8_t *>(data);
      host_data->assign(bytes, bytes + (data != nullptr ? size : 0));
    }
    return result;
  }

  /**
   * @brief Sizes and step counts.
   * @return Layers, candidates, weights, weight and arch steps.
   */
  supernet_info info() const {
    supernet_info info;
    check(pnas_supernet_get_info(get(), &info));
    return info;
  }

  /**
   * @brief Sets the weight optimizer.
   * @param options SGD options.
   */
  void set_sgd(const sgd_options &options) { check(pnas_supernet_set_sgd(get(), &options)); }
  /**
   * @brief Changes the weight learning rate.
   * @param lr Finite, >= 0.
   */
  void set_lr(float lr) { check(pnas_supernet_set_lr(get(), lr)); }
  /**
   * @brief Sets the architecture optimisation: mode, Adam, latency term, pruning.
   * @param options Search options.
   */
  void set_search(const search_options &options) {
    check(pnas_supernet_set_search(get(), &options));
  }
  /**
   * @brief Prices every candidate; the prices are kept, the model is not.
   * @param model The latency model.
   */
  void set_latency_model(latency_model &model) {
    check(pnas_supernet_set_latency_model(get(), model.get()));
  }
  /** @brief Removes the latency prices. */
  void clear_latency_model() { check(pnas_supernet_set_latency_model(get(), nullptr)); }

  /**
   * @brief One weight step: a sampled path, SGD on its weights.
   * @param images labels.size() x H x W x C floats.
   * @param labels The labels; their count is the batch size.
   * @return Loss and accuracy.
   */
  search_stats train_step(view<const float> images, view<const int32_t> labels) {
    search_stats stats;
    check(pnas_supernet_train_step(get(), images.data(), labels.data(),
                                   detail::to_i32(labels.size(), "batch"), &stats));
    return stats;
  }
  /**
   * @brief One weight step on a batch from a batcher.
   * @param b The batch.
   * @return Loss and accuracy.
   */
  search_stats train_step(const batch &b) { return train_step(b.images, b.labels); }

  /**
   * @brief One gradient arch step: gate gradients plus the latency term, Adam
   *        on alpha; weights unchanged.
   * @param images labels.size() x H x W x C floats of a held-out batch.
   * @param labels The labels; their count is the batch size.
   * @return Loss, accuracy and E[LAT].
   */
  search_stats arch_step(view<const float> images, view<const int32_t> labels) {
    search_stats stats;
    check(pnas_supernet_arch_step(get(), images.data(), labels.data(),
                                  detail::to_i32(labels.size(), "batch"), &stats));
    return stats;
  }
  /**
   * @brief One gradient arch step on a batch from a batcher.
   * @param b The batch.
   * @return Loss, accuracy and E[LAT].
   */
  search_stats arch_step(const batch &b) { return arch_step(b.images, b.labels); }

  /**
   * @brief One REINFORCE arch step.
   * @param images labels.size() x H x W x C floats.
   * @param labels The labels; their count is the batch size.
   * @return Mean reward in loss, mean accuracy, E[LAT].
   */
  search_stats arch_step_reinforce(view<const float> images, view<const int32_t> labels) {
    search_stats stats;
    check(pnas_supernet_arch_step_reinforce(get(), images.data(), labels.data(),
                                            detail::to_i32(labels.size(), "batch"), &stats));
    return stats;
  }
  /**
   * @brief One REINFORCE arch step on a batch from a batcher.
   * @param b The batch.
   * @return Mean reward in loss, mean accuracy, E[LAT].
   */
  search_stats arch_step_reinforce(const batch &b) {
    return arch_step_reinforce(b.images, b.labels);
  }

  /**
   * @brief Removes the candidates that stayed below the pruning threshold.
   * @return How many were removed.
   */
  int32_t prune() {
    int32_t pruned = 0;
    check(pnas_supernet_prune(get(), &pruned));
    return pruned;
  }
  /**
   * @brief E[LAT] under the current probabilities.
   * @return Milliseconds.
   */
  double expected_latency() const {
    double ms = 0.0;
    check(pnas_supernet_expected_latency(get(), &ms));
    return ms;
  }
  /**
   * @brief The architecture of the argmax of alpha per layer.
   * @return A new architecture.
   */
  arch derive() const {
    pnas_arch *a = nullptr;
    check(pnas_supernet_derive(get(), &a));
    return arch(a, context_handle());
  }
  /**
   * @brief A network of the derived architecture.
   * @param inherit True: copy the chosen weights and BN statistics; false: fresh weights.
   * @param options Network options.
   * @return The network.
   */
  net derive_net(bool inherit, const net_options &options = net_options()) {
    pnas_net *n = nullptr;
    check(pnas_supernet_derive_net(get(), &options, inherit ? 1 : 0, &n));
    return net(n, context_handle());
  }

  /**
   * @brief Live candidates of a layer.
   * @param layer 0 <= layer < info().layers.
   * @return Their number.
   */
  int32_t op_count(int32_t layer) const {
    int32_t n = 0;
    check(pnas_supernet_op_count(get(), layer, &n));
    return n;
  }
  /**
   * @brief The live candidates of a layer, in order.
   * @param layer The layer.
   * @return A copy.
   */
  std::vector<op_spec> ops(int32_t layer) const {
    std::vector<op_spec> result(static_cast<std::size_t>(op_count(layer)));
    check(pnas_supernet_get_ops(get(), layer, result.data(), detail::to_i32(result.size(), "ops")));
    return result;
  }
  /**
   * @brief A copy of a layer's alpha, alpha gradient or probabilities.
   * @param layer The layer.
   * @param what Which of the three.
   * @return op_count(layer) values.
   */
  std::vector<float> alpha(int32_t layer, alpha_kind what = alpha_kind::logits) const {
    std::vector<float> result(static_cast<std::size_t>(op_count(layer)));
    check(pnas_supernet_get_alpha(get(), layer, static_cast<int32_t>(what), result.data(),
                                  detail::to_i32(result.size(), "alpha")));
    return result;
  }
  /**
   * @brief softmax(alpha) of a layer.
   * @param layer The layer.
   * @return op_count(layer) values.
   */
  std::vector<float> probabilities(int32_t layer) const {
    return alpha(layer, alpha_kind::probabilities);
  }
  /**
   * @brief Overwrites a layer's alpha.
   * @param layer The layer.
   * @param values op_count(layer) finite values.
   */
  void set_alpha(int32_t layer, view<const float> values) {
    check(pnas_supernet_set_alpha(get(), layer, values.data(),
                                  detail::to_i32(values.size(), "alpha")));
  }

  /**
   * @brief Writes a checkpoint, atomically.
   * @param path File name.
   * @param host_data Bytes stored verbatim (the host's loop position, batcher states), or empty.
   */
  void save(const std::string &path, view<const uint8_t> host_data = {}) const {
    check(pnas_supernet_save(get(), path.c_str(), host_data.data(), host_data.size()));
  }

  /** @brief Low level: samples a path from softmax(alpha) and makes it active. */
  void sample() { check(pnas_supernet_sample(get())); }
  /**
   * @brief Low level: the active candidate of every layer.
   * @return One index per layer.
   */
  std::vector<int32_t> active_path() {
    std::vector<int32_t> ops(static_cast<std::size_t>(info().layers));
    check(pnas_supernet_active_path(get(), ops.data(), detail::to_i32(ops.size(), "path"), 0));
    return ops;
  }
  /**
   * @brief Low level: sets the active candidate of every layer.
   * @param ops One index per layer.
   */
  void set_active_path(view<const int32_t> ops) {
    std::vector<int32_t> copy(ops.begin(), ops.end());  // the C call takes a mutable array
    check(pnas_supernet_active_path(get(), copy.data(), detail::to_i32(copy.size(), "path"), 1));
  }
  /**
   * @brief Low level: forward of the active path.
   * @param images batch x H x W x C floats.
   * @param batch_size Number of images.
   * @param mode Batch-normalisation mode.
   * @param logits Room for batch x classes floats (out).
   */
  void forward(view<const float> images, int32_t batch_size, forward_mode mode,
               view<float> logits) {
    check(pnas_supernet_forward(get(), images.data(), batch_size, static_cast<int32_t>(mode),
                                logits.data()));
  }
  /**
   * @brief Low level: backward of the active path into the gradient buffer.
   * @param dlogits batch_size x classes floats, dL/dlogits.
   * @param batch_size The batch of the last training forward.
   */
  void backward(view<const float> dlogits, int32_t batch_size) {
    check(pnas_supernet_backward(get(), dlogits.data(), batch_size));
  }
  /** @brief Low level: SGD on the active path's weights from the gradient buffer. */
  void sgd_step() { check(pnas_supernet_sgd_step(get())); }
  /**
   * @brief Low level: views of every weight and gradient.
   * @return Views valid until the supernet is pruned or destroyed.
   */
  parameter_views parameters() {
    float *params = nullptr, *grads = nullptr;
    int64_t count = 0;
    check(pnas_supernet_parameters(get(), &params, &grads, &count));
    const std::size_t n = static_cast<std::size_t>(count);
    return parameter_views{view<float>(params, n), view<float>(grads, n)};
  }
  /**
   * @brief Low level: the alpha gradient of an arch step, alpha unchanged; read
   *        it with alpha(layer, alpha_kind::gradient), apply it with arch_update().
   * @param images labels.size() x H x W x C floats.
   * @param labels The labels; their count is the batch size.
   * @return Loss and accuracy.
   */
  search_stats arch_gradient(view<const float> images, view<const int32_t> labels) {
    search_stats stats;
    check(pnas_supernet_arch_gradient(get(), images.data(), labels.data(),
                                      detail::to_i32(labels.size(), "batch"), &stats));
    return stats;
  }
  /** @brief Low level: one Adam step on alpha from the current gradient. */
  void arch_update() { check(pnas_supernet_arch_update(get())); }
};

}  // namespace pnas

#endif  // PNAS_PNAS_HPP
