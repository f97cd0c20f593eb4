// SPDX-License-Identifier: MIT
// Tests of the C++ wrapper (bindings/cpp/pnas/pnas.hpp) against the shared
// library: exceptions carry the status and the library's message, RAII frees
// everything (checked with a counting allocator), handles move, and a short
// search through the wrapper moves alpha.
//
// It prints Check's summary line ("NN%: Checks: N, Failures: F, Errors: E")
// so that tests/summarize.py counts its checks like a Check program's.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <pnas/pnas.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

struct test_result {
  int checks = 0;
  int failures = 0;
  int errors = 0;
};
test_result g_result;
bool g_failed_here = false;

void report(bool ok, const char *expr, const char *file, int line) {
  if (!ok) {
    std::printf("%s:%d: check failed: %s\n", file, line, expr);
    g_failed_here = true;
  }
}

#define CHECK(expr) report(static_cast<bool>(expr), #expr, __FILE__, __LINE__)

// Runs `body` expecting a pnas::error; returns it (status INTERNAL and an
// empty message when nothing or something else was thrown, which fails).
template <class F>
pnas::error expect_error(F body, const char *what, int line) {
  try {
    body();
  } catch (const pnas::error &e) {
    return e;
  } catch (const std::exception &e) {
    std::printf("%s:%d: %s threw another exception: %s\n", __FILE__, line, what, e.what());
    g_failed_here = true;
    return pnas::error(PNAS_ERR_INTERNAL, "");
  }
  std::printf("%s:%d: %s did not throw\n", __FILE__, line, what);
  g_failed_here = true;
  return pnas::error(PNAS_ERR_INTERNAL, "");
}
#define EXPECT_ERROR(body) expect_error([&] { body; }, #body, __LINE__)

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

// An allocator for context_options that counts live blocks.
struct counting {
  long live = 0;
  long allocations = 0;
};

void *count_alloc(void *user, std::size_t size) {
  auto *c = static_cast<counting *>(user);
  void *p = std::malloc(size);
  if (p != nullptr) {
    c->live++;
    c->allocations++;
  }
  return p;
}

void count_free(void *user, void *ptr) {
  static_cast<counting *>(user)->live--;
  std::free(ptr);
}

pnas::context_options quiet_options(counting *c = nullptr) {
  pnas::context_options o;
  o.threads = 1;
  o.seed = 3;
  if (c != nullptr) {
    o.allocator.alloc = count_alloc;
    o.allocator.free = count_free;
    o.allocator.user = c;
  }
  return o;
}

// A tiny space built with the wrapper: 8x8x1 input, 3 classes, stem -> 4,
// one stage of two layers (the second with zero), no head conv.
pnas::space tiny_space(pnas::context &ctx) {
  pnas::space_info info;
  info.input_height = info.input_width = 8;
  info.input_channels = 1;
  info.classes = 3;
  info.stem_channels = 4;
  info.stem_stride = 1;
  info.first_block_channels = 0;
  info.head_channels = 0;
  pnas::space s(ctx, info);
  const std::array<pnas::op_spec, 3> ops{
      {{PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_MBCONV, 5, 6}, {PNAS_OP_ZERO, 0, 0}}};
  s.add_stage(8, 2, 2, ops);
  return s;
}

// 48 random 8x8 gray images of 3 classes, class c brighter in row c.
pnas::dataset tiny_data(pnas::context &ctx) {
  std::mt19937 gen(5);
  std::vector<uint8_t> images(48 * 64);
  std::vector<int32_t> labels(48);
  for (std::size_t i = 0; i < labels.size(); i++) {
    labels[i] = static_cast<int32_t>(i % 3);
    for (std::size_t p = 0; p < 64; p++) {
      const bool bright = p / 8 == static_cast<std::size_t>(labels[i]) * 2;
      images[i * 64 + p] = static_cast<uint8_t>((bright ? 160 : 0) + gen() % 64);
    }
  }
  return pnas::dataset::from_memory(ctx, images, labels, 8, 8, 1, 3);
}

// ---- tests ----------------------------------------------------------------

void error_carries_status_and_message() {
  pnas::context ctx(quiet_options());
  const std::string path = "/nonexistent/dir/arch.yaml";
  const pnas::error e = EXPECT_ERROR(pnas::arch::load_yaml(ctx, path));
  CHECK(e.status() == PNAS_ERR_IO);
  CHECK(contains(e.what(), path));
  CHECK(std::string(e.what()) == ctx.last_error());
  CHECK(ctx.last_status() == PNAS_ERR_IO);
  CHECK(std::string(e.status_string()) == pnas_status_string(PNAS_ERR_IO));

  const pnas::error p =
      EXPECT_ERROR(pnas::space::parse_yaml(ctx, "format: pnas-space/1\nclasses: [1, 2\n"));
  CHECK(p.status() == PNAS_ERR_PARSE);
  CHECK(std::string(p.what()) == ctx.last_error());
  CHECK(!std::string(p.what()).empty());
}

void context_creation_error_uses_the_buffer() {
  pnas::context_options o = quiet_options();
  o.threads = 0;
  const pnas::error e = EXPECT_ERROR(pnas::context ctx(o));
  CHECK(e.status() == PNAS_ERR_INVALID_ARGUMENT);
  CHECK(contains(e.what(), "threads"));
}

void log_callback_sees_failures() {
  std::vector<std::string> lines;
  pnas::context_options o = quiet_options();
  o.log_level = PNAS_LOG_ERROR;
  pnas::context ctx(o, [&lines](pnas_log_level level, const char *message) {
    if (level == PNAS_LOG_ERROR) lines.emplace_back(message);
  });
  pnas::context moved = std::move(ctx);  // the callback moves with the context
  EXPECT_ERROR(pnas::space::load_yaml(moved, "/nonexistent/space.yaml"));
  CHECK(!lines.empty());
  CHECK(!lines.empty() && lines.back() == moved.last_error());
}

void bad_argument_names_the_problem() {
  pnas::context ctx(quiet_options());
  pnas::space s = tiny_space(ctx);
  const std::array<pnas::op_spec, 1> bad{{{PNAS_OP_MBCONV, 4, 3}}};
  const pnas::error e = EXPECT_ERROR(s.add_stage(16, 1, 1, bad));
  CHECK(e.status() == PNAS_ERR_INVALID_ARGUMENT);
  CHECK(contains(e.what(), "kernel"));
  CHECK(s.info().layers == 2);  // unchanged on failure
}

void empty_handles_throw() {
  pnas::space s;
  CHECK(!s);
  CHECK(s.get() == nullptr);
  const pnas::error e = EXPECT_ERROR(s.info());
  CHECK(e.status() == PNAS_ERR_INVALID_ARGUMENT);
  CHECK(!std::string(e.what()).empty());
}

void views_convert_and_index() {
  std::vector<float> v{1.0f, 2.0f, 3.0f};
  pnas::view<float> mutable_view(v);
  pnas::view<const float> const_view = mutable_view;
  CHECK(const_view.size() == 3);
  CHECK(const_view.data() == v.data());
  CHECK(const_view[2] == 3.0f);
  CHECK(std::accumulate(const_view.begin(), const_view.end(), 0.0f) == 6.0f);
  const float raw[2] = {4.0f, 5.0f};
  pnas::view<const float> from_array(raw);
  CHECK(from_array.size() == 2);
  CHECK(from_array.first(1).to_vector() == std::vector<float>{4.0f});
  CHECK(pnas::view<int>().empty());
}

void raii_frees_everything() {
  counting c;
  {
    pnas::context ctx(quiet_options(&c));
    const long after_context = c.live;
    {
      pnas::space s = tiny_space(ctx);
      pnas::supernet sn(ctx, s);
      pnas::latency_model lm = pnas::latency_model::from_macs(ctx, 1.0);
      sn.set_latency_model(lm);
      pnas::dataset data = tiny_data(ctx);
      auto parts = data.split_balanced(2);
      pnas::batcher b(parts.rest);
      pnas::arch a = sn.derive();
      pnas::net n(ctx, a);
      CHECK(ctx.describe().find("seed: 3") != std::string::npos);
      CHECK(c.live > after_context);
    }
    CHECK(c.live == after_context);
  }
  CHECK(c.allocations > 0);
  CHECK(c.live == 0);
}

void moves_transfer_ownership() {
  counting c;
  {
    pnas::context ctx(quiet_options(&c));
    pnas::space a = tiny_space(ctx);
    pnas_space *raw = a.get();
    pnas::space b(std::move(a));
    CHECK(!a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    CHECK(b.get() == raw);
    CHECK(b.info().layers == 2);

    pnas::space other = pnas::space::create_default(ctx);
    const long with_both = c.live;
    other = std::move(b);  // destroys the default space
    CHECK(c.live < with_both);
    CHECK(other.get() == raw);
    CHECK(!b);  // NOLINT(bugprone-use-after-move)

    pnas::context moved(std::move(ctx));
    CHECK(!ctx);                      // NOLINT(bugprone-use-after-move)
    CHECK(other.info().layers == 2);  // still valid: the C context did not change

    pnas_space *released = other.release();
    CHECK(!other);
    pnas_space_destroy(released);
  }
  CHECK(c.live == 0);
}

void search_loop_changes_alpha() {
  counting c;
  {
    pnas::context ctx(quiet_options(&c));
    pnas::space s = tiny_space(ctx);
    pnas::supernet_options so;
    so.max_batch = 16;
    pnas::supernet sn(ctx, s, so);
    CHECK(sn.info().layers == 2);
    CHECK(sn.op_count(0) == 2);  // zero dropped on the stride-2 first layer
    CHECK(sn.op_count(1) == 3);
    CHECK(sn.ops(1)[2].kind == PNAS_OP_ZERO);

    pnas::latency_model lm = pnas::latency_model::from_macs(ctx, 1.0);
    sn.set_latency_model(lm);
    pnas::search_options search;
    search.loss_form = PNAS_LOSS_ADD;
    search.target_ms = 0.01f;
    search.lambda = 1.0f;
    search.arch_lr = 0.05f;
    sn.set_search(search);

    pnas::dataset data = tiny_data(ctx);
    pnas::dataset::split parts = data.split_balanced(4);
    CHECK(parts.held_out.info().count == 12);
    CHECK(parts.rest.info().count == 36);
    pnas::batcher_options bo;
    bo.batch_size = 12;
    pnas::batcher train(parts.rest, bo);
    pnas::batcher held(parts.held_out, bo);

    const std::vector<float> before = sn.alpha(1);
    const double e0 = sn.expected_latency();
    for (int step = 0; step < 6; step++) {
      const pnas::batch b = train.next_batch();
      CHECK(b.count == 12);
      CHECK(b.images.size() == 12u * 64u);
      const pnas::search_stats ws = sn.train_step(b);
      CHECK(std::isfinite(ws.loss) && ws.images == 12);
      const pnas::search_stats as = sn.arch_step(held.next_batch());
      CHECK(as.expected_latency_ms > 0.0);
    }
    const std::vector<float> after = sn.alpha(1);
    CHECK(after != before);
    CHECK(sn.info().arch_steps == 6);
    CHECK(sn.expected_latency() < e0);  // a strong latency term pushes E[LAT] down

    const std::vector<float> prob = sn.probabilities(1);
    CHECK(std::fabs(std::accumulate(prob.begin(), prob.end(), 0.0f) - 1.0f) < 1e-5f);

    // derive() is the argmax of alpha per layer.
    pnas::arch derived = sn.derive();
    const std::vector<pnas::block_info> blocks = derived.blocks();
    CHECK(blocks.size() == 2);
    for (int32_t layer = 0; layer < 2 && blocks.size() == 2; layer++) {
      const std::vector<float> a = sn.alpha(layer);
      const auto best = static_cast<std::size_t>(std::max_element(a.begin(), a.end()) - a.begin());
      const pnas::op_spec op = sn.ops(layer)[best];
      const pnas::block_info &blk = blocks[static_cast<std::size_t>(layer)];
      if (op.kind == PNAS_OP_ZERO) {
        CHECK(blk.kind == PNAS_BLOCK_IDENTITY);
      } else {
        CHECK(blk.kind == PNAS_BLOCK_MBCONV && blk.kernel == op.kernel && blk.expand == op.expand);
      }
    }
    CHECK(lm.arch_latency(derived) > 0.0);

    // set_alpha round-trips.
    const std::vector<float> chosen{2.0f, -1.0f, 0.5f};
    sn.set_alpha(1, chosen);
    CHECK(sn.alpha(1) == chosen);
  }
  CHECK(c.live == 0);
}

void low_level_steps() {
  pnas::context ctx(quiet_options());
  pnas::space s = tiny_space(ctx);
  pnas::supernet_options so;
  so.max_batch = 4;
  pnas::supernet sn(ctx, s, so);
  const std::vector<int32_t> path{1, 2};
  sn.set_active_path(path);
  CHECK(sn.active_path() == path);
  CHECK(ctx.threads() == 1);

  // Restoring the generator's state replays the same samples.
  const std::vector<uint64_t> rng = ctx.rng_state();
  std::vector<std::vector<int32_t>> paths;
  for (int i = 0; i < 8; i++) {
    sn.sample();
    paths.push_back(sn.active_path());
  }
  ctx.set_rng_state(rng);
  for (int i = 0; i < 8; i++) {
    sn.sample();
    CHECK(sn.active_path() == paths[static_cast<std::size_t>(i)]);
  }

  std::vector<float> images(4 * 64, 0.25f);
  std::vector<float> logits(4 * 3);
  sn.forward(images, 4, pnas::forward_mode::train, logits);
  CHECK(std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); }));
  const std::vector<float> dlogits(4 * 3, 0.1f);
  sn.backward(dlogits, 4);
  pnas::parameter_views pv = sn.parameters();
  CHECK(pv.params.size() == static_cast<std::size_t>(sn.info().params));
  CHECK(pv.grads.size() == pv.params.size());
  CHECK(std::any_of(pv.grads.begin(), pv.grads.end(), [](float g) { return g != 0.0f; }));
  const std::vector<float> w0 = pv.params.to_vector();
  sn.sgd_step();
  CHECK(pv.params.to_vector() != w0);

  const pnas::error e = EXPECT_ERROR(sn.set_active_path(std::vector<int32_t>{0, 7}));
  CHECK(e.status() == PNAS_ERR_INVALID_ARGUMENT);
}

void latency_callback_lambda() {
  pnas::context ctx(quiet_options());
  pnas::space s = tiny_space(ctx);
  pnas::supernet sn(ctx, s);
  int calls = 0;
  pnas::latency_model lm =
      pnas::latency_model::from_callback(ctx, [&calls](const pnas_latency_query &q) {
        calls++;
        return q.part == PNAS_LATENCY_BLOCK ? 0.5 : 1.0;
      });
  pnas::latency_model moved = std::move(lm);  // the callback moves with the model
  sn.set_latency_model(moved);
  CHECK(calls > 0);
  pnas::arch a = sn.derive();
  const auto blocks = a.blocks();
  double mbconv = 0.0;
  for (const auto &b : blocks) mbconv += b.kind == PNAS_BLOCK_MBCONV ? 0.5 : 0.0;
  // stem + classifier at 1 ms each (no head conv), 0.5 ms per MBConv block.
  CHECK(std::fabs(moved.arch_latency(a) - (2.0 + mbconv)) < 1e-9);

  pnas::latency_model refusing =
      pnas::latency_model::from_callback(ctx, [](const pnas_latency_query &q) -> double {
        if (q.part == PNAS_LATENCY_BLOCK) throw std::runtime_error("unknown");
        return 1.0;
      });
  const pnas::error e = EXPECT_ERROR(sn.set_latency_model(refusing));
  CHECK(e.status() == PNAS_ERR_NOT_FOUND);
  CHECK(contains(e.what(), "expanded_conv-"));
}

void checkpoint_keeps_host_data() {
  pnas::context ctx(quiet_options());
  pnas::space s = tiny_space(ctx);
  pnas::supernet sn(ctx, s);
  const std::vector<float> alpha{0.25f, -0.5f, 1.0f};
  sn.set_alpha(1, alpha);
  char tmpl[] = "/tmp/pnas-cpp-XXXXXX";
  const int fd = mkstemp(tmpl);
  CHECK(fd >= 0);
  const std::string path = tmpl;
  const std::vector<uint8_t> host{1, 2, 3, 250};
  sn.save(path, host);
  std::vector<uint8_t> back;
  pnas::supernet loaded = pnas::supernet::load(ctx, path, 0, &back);
  CHECK(back == host);
  CHECK(loaded.alpha(1) == alpha);
  std::remove(path.c_str());
}

void arch_and_net_round_trip() {
  pnas::context ctx(quiet_options());
  pnas::arch_info info;
  info.input_height = info.input_width = 8;
  info.classes = 3;
  info.head_channels = 0;
  pnas::arch a(ctx, info);
  pnas::block_info b;
  b.out_channels = 8;
  b.kernel = 5;
  b.expand = 3;
  b.stride = 2;
  a.append_block(b);
  CHECK(a.info().blocks == 1);
  CHECK(a.block(0).out_height == 4);
  pnas::net n(ctx, a);
  pnas::dataset data = tiny_data(ctx);
  const pnas::step_stats before = n.evaluate(data);
  CHECK(before.images == 48);
  pnas::batcher_options bo;
  bo.batch_size = 16;
  pnas::batcher train(data, bo);
  std::vector<float> x(static_cast<std::size_t>(bo.batch_size) * train.image_floats());
  std::vector<int32_t> y(static_cast<std::size_t>(bo.batch_size));
  const int32_t count = train.next(x, y);
  CHECK(count == 16);
  const pnas::step_stats st = n.train_step(x, y);
  CHECK(st.images == 16 && std::isfinite(st.loss));
  CHECK(n.get_arch().info().blocks == 1);
  const std::vector<uint8_t> state = train.state();
  CHECK(!state.empty());
  train.set_state(state);

  // Without shuffling, restart() replays the epoch from its first batch.
  bo.shuffle = 0;
  pnas::batcher ordered(data, bo);
  const std::vector<int32_t> first = ordered.next_view().labels.to_vector();
  ordered.next_view();
  ordered.restart();
  CHECK(ordered.next_view().labels.to_vector() == first);
  CHECK(first.size() == 16);
  ordered.reset();  // the handle's reset(): destroys the batcher now
  CHECK(!ordered);
}

struct test_case {
  const char *name;
  void (*fn)();
};

}  // namespace

int main() {
  const test_case tests[] = {
      {"error_carries_status_and_message", error_carries_status_and_message},
      {"context_creation_error_uses_the_buffer", context_creation_error_uses_the_buffer},
      {"log_callback_sees_failures", log_callback_sees_failures},
      {"bad_argument_names_the_problem", bad_argument_names_the_problem},
      {"empty_handles_throw", empty_handles_throw},
      {"views_convert_and_index", views_convert_and_index},
      {"raii_frees_everything", raii_frees_everything},
      {"moves_transfer_ownership", moves_transfer_ownership},
      {"search_loop_changes_alpha", search_loop_changes_alpha},
      {"low_level_steps", low_level_steps},
      {"latency_callback_lambda", latency_callback_lambda},
      {"checkpoint_keeps_host_data", checkpoint_keeps_host_data},
      {"arch_and_net_round_trip", arch_and_net_round_trip},
  };
  for (const test_case &t : tests) {
    g_failed_here = false;
    g_result.checks++;
    try {
      t.fn();
      if (g_failed_here) {
        g_result.failures++;
        std::printf("%s: failed\n", t.name);
      }
    } catch (const std::exception &e) {
      g_result.errors++;
      std::printf("%s: error: unexpected exception: %s\n", t.name, e.what());
    }
  }
  const int passed = g_result.checks - g_result.failures - g_result.errors;
  std::printf("%d%%: Checks: %d, Failures: %d, Errors: %d\n", 100 * passed / g_result.checks,
              g_result.checks, g_result.failures, g_result.errors);
  return g_result.failures + g_result.errors == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
