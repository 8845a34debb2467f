/* hist.c - log-linear latency histograms (see harness.h). */
#include "../harness.h"

double hist_value(unsigned idx)
{
	if (idx < 256)
		return (double)idx;
	unsigned e = idx / 128 - 1;
	uint64_t low = (uint64_t)(idx - e * 128) << e;
	return (double)low + (double)(1ull << e) / 2.0;
}

double hist_quantile(const uint32_t *h, uint64_t n, double q)
{
	if (n == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)n);
	if (rank >= n)
		rank = n - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h[i];
		if (seen > rank)
			return hist_value(i);
	}
	return hist_value(HIST_BUCKETS - 1);
}
