/* SPDX-License-Identifier: MIT */
/* Choosing BLIS's sub-configuration on CPUs that BLIS does not recognise.
 *
 * BLIS picks its kernels once per process, from cpuid, the first time it is
 * used. BLIS 0.9 (Debian 12) knows AMD families up to 0x19 (Zen 3 and 4);
 * on a Zen 5 (family 0x1a) it falls back to its portable "generic" kernels,
 * which run the supernet step about 2.7x slower than its AVX2 kernels do
 * (measured: 312 ms against 114 ms). The only way the library's API offers
 * to choose is the BLIS_ARCH_TYPE environment variable, read at that first
 * use. So, when the user has not set it and the CPU is one that this BLIS
 * cannot know, libpnas sets it for the moment BLIS initialises and then
 * removes it again: the environment the host sees is unchanged.
 *
 * It asks for zen3, BLIS's AVX2 + FMA kernels tuned for the newest AMD core
 * that BLIS 0.9 knows. The AVX-512 kernels (skx) were measured too: faster
 * on one thread (weight step 104 against 117 ms), slower on two (84 against
 * 77 ms) and at batch 1, so they are not the safer default.
 *
 * If the host initialised this BLIS before libpnas's first product, BLIS has
 * chosen already and keeps its choice; pni_blis_describe tells which. */
#include <blis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gemm512.h"
#include "kernels/gemm_rows.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define PNI_HAVE_CPUID 1
#endif

/* The first AMD family that BLIS 0.9 and older do not know. */
#define PNI_AMD_FAMILY_UNKNOWN_TO_BLIS0 0x1a

int pni_blis_arch_hint(const pni_cpu_info *cpu, int blis_major, int user_chose) {
  if (user_chose || cpu == NULL) return -1;
  /* BLIS 1.0 and later know newer AMD cores; their own choice is trusted. */
  if (blis_major >= 1) return -1;
  /* Intel CPUs are matched by their features, never by family, so BLIS 0.9
   * always finds a configuration for them; only new AMD families fall to
   * generic. Without AVX2 and FMA no x86 configuration would run anyway. */
  if (!cpu->is_amd || cpu->family < PNI_AMD_FAMILY_UNKNOWN_TO_BLIS0) return -1;
  if (!cpu->has_avx2_fma) return -1;
#if defined(BLIS_CONFIG_ZEN3)
  return (int)BLIS_ARCH_ZEN3;
#elif defined(BLIS_CONFIG_HASWELL)
  return (int)BLIS_ARCH_HASWELL;
#else
  /* Asking for a configuration that this BLIS lacks would make it abort. */
  return -1;
#endif
}

void pni_cpu_query(pni_cpu_info *out) {
  memset(out, 0, sizeof *out);
#if defined(PNI_HAVE_CPUID)
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
  /* "AuthenticAMD" is spread over ebx, edx, ecx in that order. */
  char vendor[13];
  memcpy(vendor, &ebx, 4);
  memcpy(vendor + 4, &edx, 4);
  memcpy(vendor + 8, &ecx, 4);
  vendor[12] = '\0';
  out->is_amd = strcmp(vendor, "AuthenticAMD") == 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
  const unsigned int base = (eax >> 8) & 0xf, extended = (eax >> 20) & 0xff;
  out->family = base == 0xf ? base + extended : base;
  /* __builtin_cpu_supports also checks that the OS saves the AVX state. */
  __builtin_cpu_init();
  out->has_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  out->has_avx512f = __builtin_cpu_supports("avx512f");
#endif
}

static struct {
  pthread_once_t once;
  int hinted;      /* the sub-configuration libpnas asked for, or -1 */
  int user_chose;  /* BLIS_ARCH_TYPE was set by the user */
  unsigned family; /* for the description */
} state = {PTHREAD_ONCE_INIT, -1, 0, 0};

static int blis_major(void) {
  return atoi(bli_info_get_version_str());
}

static void choose_once(void) {
  state.user_chose = getenv("BLIS_ARCH_TYPE") != NULL;
  pni_cpu_info cpu;
  pni_cpu_query(&cpu);
  state.family = cpu.family;
  const int hint = pni_blis_arch_hint(&cpu, blis_major(), state.user_chose);
  if (hint < 0) {
    bli_init();
    return;
  }
  char value[16];
  snprintf(value, sizeof value, "%d", hint);
  /* BLIS reads the variable while its architecture is first queried. */
  if (setenv("BLIS_ARCH_TYPE", value, 0) == 0) {
    bli_init();
    (void)bli_arch_query_id();
    unsetenv("BLIS_ARCH_TYPE");
    state.hinted = hint;
  } else {
    bli_init();
  }
}

void pni_blis_choose_arch(void) {
  pthread_once(&state.once, choose_once);
}

void pni_blis_describe(char *buf, size_t cap) {
  pni_blis_choose_arch();
  const arch_t id = bli_arch_query_id();
  const char *version = bli_info_get_version_str();
  if (state.user_chose) {
    snprintf(buf, cap, "%s (%s, set by BLIS_ARCH_TYPE)", version, bli_arch_string(id));
  } else if (state.hinted >= 0 && (int)id == state.hinted) {
    snprintf(buf, cap, "%s (%s, chosen by libpnas: this BLIS does not know AMD family 0x%x)",
             version, bli_arch_string(id), state.family);
  } else if (state.hinted >= 0) {
    snprintf(buf, cap, "%s (%s, chosen before libpnas's first use; libpnas would choose %s)",
             version, bli_arch_string(id), bli_arch_string((arch_t)state.hinted));
  } else {
    snprintf(buf, cap, "%s (%s)", version, bli_arch_string(id));
  }
  size_t used = strlen(buf);
  if (pni_gemm512_active() && used < cap) {
    snprintf(buf + used, cap - used,
             " + libpnas's 512-bit microkernel (%dx%d) for the products it is faster on",
             PNI_GEMM512_MR, PNI_GEMM512_NR);
    used = strlen(buf);
  }
  if (pni_gemm_rows_active() && used < cap) {
    snprintf(buf + used, cap - used,
             " + libpnas's row kernels for the 1x1 convolutions and the evaluation stem");
  }
}

int pni_blis_user_chose(void) {
  pni_blis_choose_arch();
  return state.user_chose;
}

const char *pni_blis_arch_name(void) {
  pni_blis_choose_arch();
  return bli_arch_string(bli_arch_query_id());
}
