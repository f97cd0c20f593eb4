/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "check_main.h"

int main(void) {
  SRunner *runner = srunner_create(pnas_test_suite());
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
