/* A Docker sandbox's internal network: the addresses planned in a subnet. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "docker/topology.h"

static void test_subnet_plan(void **state)
{
	struct subnet_plan p;
	(void)state;

	assert_int_equal(subnet_plan("198.18.128.0/24", &p), 0);
	assert_string_equal(p.subnet, "198.18.128.0/24");
	assert_string_equal(p.gateway, "198.18.128.1");
	assert_string_equal(p.sidecar, "198.18.128.2");
	assert_string_equal(p.range, "198.18.128.128/25");
	assert_int_equal(subnet_plan("172.20.5.9/16", &p), 0); /* host bits dropped */
	assert_string_equal(p.subnet, "172.20.0.0/16");
	assert_string_equal(p.sidecar, "172.20.0.2");
	assert_string_equal(p.range, "172.20.128.0/17");
	assert_int_equal(subnet_plan("10.0.0.16/28", &p), 0);
	assert_string_equal(p.range, "10.0.0.24/29");
	assert_int_equal(subnet_plan("10.0.0.0/29", &p), -EINVAL);
	assert_int_equal(subnet_plan("10.0.0.0/8", &p), -EINVAL);
	assert_int_equal(subnet_plan("fd00::/64", &p), -EINVAL);
	assert_int_equal(subnet_plan("10.0.0.0", &p), -EINVAL);
	assert_int_equal(subnet_plan("10.0.0.0/24x", &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_subnet_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
