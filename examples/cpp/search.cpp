// SPDX-License-Identifier: MIT
// A C++ host that runs a ProxylessNAS search through the header-only wrapper
// <pnas/pnas.hpp>: Fashion-MNIST, a supernet from a space YAML, a latency
// model, weight steps on the training images, an arch step every few steps
// on a class-balanced held-out split, then the derived architecture saved as
// YAML (and optionally as an official net.config and a supernet checkpoint).
//
//   pnas-search-cpp [--data DIR] [--space FILE] [--steps N] [--images N]
//                   [--held-per-class N] [--batch N] [--arch-every K] [--warmup N]
//                   [--latency macs|callback|TABLE.yaml] [--target MS] [--lambda X]
//                   [--threads N] [--seed S] [--out ARCH.yaml]
//                   [--net-config FILE] [--checkpoint FILE]
//
// Every failure throws pnas::error carrying the library's message; main()
// prints it. Objects are declared after the context they come from, so they
// are destroyed before it, as the C API requires.
#include <cstdio>
#include <cstdlib>
#include <pnas/pnas.hpp>
#include <stdexcept>
#include <string>

namespace {

struct settings {
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string space = "examples/configs/fmnist-space.yaml";
  std::string latency = "macs";
  std::string out = "arch.yaml";
  std::string net_config;
  std::string checkpoint;
  int64_t steps = 200;
  int64_t images = 0;  // 0: the whole training set
  int32_t held_per_class = 50;
  int32_t batch = 64;
  int64_t arch_every = 5;
  int64_t warmup = -1;  // -1: a quarter of the steps
  float target_ms = 10.0f;
  float lambda = 0.1f;
  int32_t threads = 0;
  uint64_t seed = 1;
};

void usage() {
  std::fputs(
      "usage: pnas-search-cpp [--data DIR] [--space FILE] [--steps N] [--images N]\n"
      "         [--held-per-class N] [--batch N] [--arch-every K] [--warmup N]\n"
      "         [--latency macs|callback|TABLE.yaml] [--target MS] [--lambda X]\n"
      "         [--threads N] [--seed S] [--out ARCH.yaml] [--net-config FILE]\n"
      "         [--checkpoint FILE]\n",
      stderr);
}

// Parses the command line; throws std::invalid_argument on a bad option.
settings parse(int argc, char **argv) {
  settings s;
  for (int i = 1; i < argc; i++) {
    const std::string opt = argv[i];
    if (opt == "--help" || opt == "-h") throw std::invalid_argument("usage");
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + opt);
    const std::string v = argv[++i];
    // clang-format off
    if (opt == "--data") s.data = v;
    else if (opt == "--space") s.space = v;
    else if (opt == "--latency") s.latency = v;
    else if (opt == "--out") s.out = v;
    else if (opt == "--net-config") s.net_config = v;
    else if (opt == "--checkpoint") s.checkpoint = v;
    else if (opt == "--steps") s.steps = std::stoll(v);
    else if (opt == "--images") s.images = std::stoll(v);
    else if (opt == "--held-per-class") s.held_per_class = std::stoi(v);
    else if (opt == "--batch") s.batch = std::stoi(v);
    else if (opt == "--arch-every") s.arch_every = std::stoll(v);
    else if (opt == "--warmup") s.warmup = std::stoll(v);
    else if (opt == "--target") s.target_ms = std::stof(v);
    else if (opt == "--lambda") s.lambda = std::stof(v);
    else if (opt == "--threads") s.threads = std::stoi(v);
    else if (opt == "--seed") s.seed = std::stoull(v);
    else throw std::invalid_argument("unknown option " + opt);
    // clang-format on
  }
  if (s.steps < 1 || s.batch < 1 || s.arch_every < 1 || s.images < 0) {
    throw std::invalid_argument("--steps, --batch and --arch-every must be at least 1");
  }
  if (s.warmup < 0) s.warmup = s.steps / 4;
  return s;
}

// The latency model chosen by --latency. "callback" shows a host function:
// here a fixed 0.01 ms per part plus 0.5 ms per million MACs, standing in for
// whatever a real host knows about its device.
pnas::latency_model make_latency_model(pnas::context &ctx, const std::string &which) {
  if (which == "macs") return pnas::latency_model::from_macs(ctx, 1.0);
  if (which == "callback") {
    return pnas::latency_model::from_callback(ctx, [](const pnas_latency_query &q) {
      return 0.01 + 0.5 * static_cast<double>(q.block.macs) / 1e6;
    });
  }
  return pnas::latency_model::load_table(ctx, which);
}

void print_arch(const pnas::arch &a) {
  std::printf("derived:");
  for (const pnas::block_info &b : a.blocks()) {
    if (b.kind == PNAS_BLOCK_IDENTITY)
      std::printf(" id");
    else
      std::printf(" k%de%d", static_cast<int>(b.kernel), static_cast<int>(b.expand));
  }
  const pnas::arch_info info = a.info();
  std::printf("\nblocks=%d macs=%lld params=%lld\n", static_cast<int>(info.blocks),
              static_cast<long long>(info.macs), static_cast<long long>(info.params));
}

int run(const settings &s) {
  pnas::context_options co;
  if (s.threads > 0) co.threads = s.threads;
  co.seed = s.seed;
  pnas::context ctx(co);

  // Data: the training set (or its first --images images), split into
  // images for the weights and a class-balanced held-out set for alpha, so
  // that the architecture is chosen on images the weights never saw.
  pnas::dataset all = pnas::dataset::load_idx(ctx, s.data + "/train-images-idx3-ubyte.gz",
                                              s.data + "/train-labels-idx1-ubyte.gz");
  if (s.images > 0) all = all.subset(0, s.images);
  pnas::dataset::split parts = all.split_balanced(s.held_per_class);
  std::printf("data: %lld images for the weights, %lld held out\n",
              static_cast<long long>(parts.rest.info().count),
              static_cast<long long>(parts.held_out.info().count));

  pnas::space space = pnas::space::load_yaml(ctx, s.space);
  pnas::supernet_options so;
  so.max_batch = s.batch;
  pnas::supernet sn(ctx, space, so);

  // The supernet keeps the prices, not the model; we keep the model to
  // price the derived architecture at the end.
  pnas::latency_model latency = make_latency_model(ctx, s.latency);
  sn.set_latency_model(latency);
  pnas::search_options search;
  search.loss_form = PNAS_LOSS_ADD;
  search.target_ms = s.target_ms;
  search.lambda = s.lambda;
  search.arch_lr = 6e-3f;  // a short search: faster alpha than the official 1e-3
  sn.set_search(search);

  pnas::batcher_options bo;
  bo.batch_size = s.batch;
  bo.seed = s.seed;
  bo.mean[0] = 0.2860f;  // Fashion-MNIST's mean and standard deviation
  bo.std[0] = 0.3530f;
  pnas::batcher weights(parts.rest, bo);
  pnas::batcher held(parts.held_out, bo);

  std::printf("start: layers=%d candidates=%d E[LAT]=%.3f ms\n", static_cast<int>(sn.info().layers),
              static_cast<int>(sn.info().candidates), sn.expected_latency());
  const float lr0 = 0.05f;
  for (int64_t step = 0; step < s.steps; step++) {
    sn.set_lr(pnas::lr_cosine(lr0, step, s.steps));
    const pnas::search_stats ws = sn.train_step(weights.next_batch());
    // Arch steps start after a warm-up, once the weights mean something.
    if (step >= s.warmup && step % s.arch_every == s.arch_every - 1) {
      const pnas::search_stats as = sn.arch_step(held.next_batch());
      std::printf("step %lld: loss %.4f acc %.3f | arch loss %.4f E[LAT]=%.3f ms\n",
                  static_cast<long long>(step + 1), ws.loss, ws.accuracy, as.loss,
                  as.expected_latency_ms);
    } else if ((step + 1) % 50 == 0 || step + 1 == s.steps) {
      std::printf("step %lld: loss %.4f acc %.3f\n", static_cast<long long>(step + 1), ws.loss,
                  ws.accuracy);
    }
  }

  for (int32_t layer = 0; layer < sn.info().layers; layer++) {
    std::printf("layer %d p:", static_cast<int>(layer));
    for (float p : sn.probabilities(layer)) std::printf(" %.3f", static_cast<double>(p));
    std::printf("\n");
  }
  pnas::arch derived = sn.derive();
  print_arch(derived);
  std::printf("latency: E[LAT]=%.3f ms, derived %.3f ms\n", sn.expected_latency(),
              latency.arch_latency(derived));
  derived.save_yaml(s.out);
  std::printf("wrote %s\n", s.out.c_str());
  if (!s.net_config.empty()) derived.export_net_config(s.net_config);
  if (!s.checkpoint.empty()) sn.save(s.checkpoint);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  settings s;
  try {
    s = parse(argc, argv);
  } catch (const std::exception &e) {
    if (std::string(e.what()) != "usage") std::fprintf(stderr, "pnas-search-cpp: %s\n", e.what());
    usage();
    return 2;
  }
  try {
    return run(s);
  } catch (const pnas::error &e) {
    std::fprintf(stderr, "pnas-search-cpp: %s (%s)\n", e.what(), e.status_string());
    return 1;
  }
}
