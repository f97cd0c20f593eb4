/* SPDX-License-Identifier: MIT */
/* Every Check test program defines pnas_test_suite() and links check_main.c,
 * which runs the suite and turns failures into the exit status. */
#ifndef PNAS_TESTS_CHECK_MAIN_H
#define PNAS_TESTS_CHECK_MAIN_H

#include <check.h>

Suite *pnas_test_suite(void);

#endif
