// The host half of mask-based NMS on CUDA, shared by nms_cuda.cu and rotated_cuda.cu: a
// kernel has written, for every box in rank order, a bitmask of the later boxes it would
// suppress (64 per word); walking the ranks once, a box is kept unless a kept box set its bit.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

namespace detops {

constexpr int kBitsPerWord = 64;

__host__ __device__ inline int64_t mask_words(int64_t n) { return (n + kBitsPerWord - 1) / kBitsPerWord; }

// mask: (n * mask_words(n)) int64 on the device; order: (n,) the box index at each rank.
// Returns the kept box indices in rank order, on order's device.
inline at::Tensor kept_from_mask(const at::Tensor& mask, const at::Tensor& order) {
  const int64_t n = order.size(0), words = mask_words(n);
  const auto host_mask = mask.cpu();
  const auto* bits = reinterpret_cast<const uint64_t*>(host_mask.data_ptr<int64_t>());
  std::vector<uint64_t> removed(words, 0);
  std::vector<int64_t> kept_ranks;
  for (int64_t i = 0; i < n; ++i) {
    if (removed[i / kBitsPerWord] & (uint64_t{1} << (i % kBitsPerWord))) continue;
    kept_ranks.push_back(i);
    for (int64_t w = i / kBitsPerWord; w < words; ++w) removed[w] |= bits[i * words + w];
  }
  auto ranks = at::empty({static_cast<int64_t>(kept_ranks.size())}, at::kLong);
  std::copy(kept_ranks.begin(), kept_ranks.end(), ranks.data_ptr<int64_t>());
  return order.index_select(0, ranks.to(order.device()));
}

}  // namespace detops
