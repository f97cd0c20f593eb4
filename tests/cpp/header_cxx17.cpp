// SPDX-License-Identifier: MIT
// Compiled as -std=c++17 -pedantic -Werror -Wall -Wextra (g++, and clang++
// with -fsyntax-only): the wrapper header is clean C++17. It also touches
// every handle class and the view template so that their members are checked.
#include <cstdio>
#include <pnas/pnas.hpp>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible_v<pnas::context>, "handles are move-only");
static_assert(!std::is_copy_assignable_v<pnas::supernet>, "handles are move-only");
static_assert(std::is_nothrow_move_constructible_v<pnas::supernet>, "moves do not throw");
static_assert(std::is_nothrow_move_assignable_v<pnas::latency_model>, "moves do not throw");
static_assert(std::is_nothrow_move_constructible_v<pnas::batcher>, "moves do not throw");
static_assert(std::is_base_of_v<std::runtime_error, pnas::error>, "pnas::error is an exception");
static_assert(sizeof(pnas::search_options) == sizeof(pnas_search_options),
              "options structs add no members");
static_assert(std::is_convertible_v<pnas::view<float>, pnas::view<const float>>,
              "a mutable view converts to a const one");
static_assert(!std::is_convertible_v<pnas::view<const float>, pnas::view<float>>,
              "a const view does not convert to a mutable one");

int main() {
  pnas::context_options options;
  options.threads = 1;
  pnas::context ctx(options);
  pnas::space space = pnas::space::create_default(ctx);
  pnas::arch arch;
  pnas::dataset data;
  pnas::batcher batcher;
  pnas::net net;
  pnas::latency_model model;
  pnas::supernet supernet;
  std::vector<float> values(4);
  pnas::view<const float> v = values;
  std::printf("%s %d %zu %d\n", pnas::version_string(), space.info().layers, v.size(),
              static_cast<int>(!arch && !data && !batcher && !net && !model && !supernet));
  return pnas::version() == PNAS_VERSION_NUMBER ? 0 : 1;
}
