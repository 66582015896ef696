// Sigmoid focal loss on CUDA (MMCV conventions, see focal_loss.cpp): one thread per logit
// for the unreduced forward loss and for the backward gradient.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>

#include "../focal_loss.h"

namespace detops {
namespace {

constexpr int kThreads = 256;

// grad_loss == nullptr: write the loss; otherwise write grad_loss * d loss / d x.
template <typename T>
__global__ void focal_loss_kernel(int64_t count, int64_t classes, const T* x,
                                  const int64_t* target, const T* weight, const T* grad_loss,
                                  T gamma, T alpha, T* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const int64_t row_class = target[i / classes];
  const bool is_target = row_class == i % classes;
  const T class_weight = (weight != nullptr && row_class < classes) ? weight[row_class] : T(1);
  if (grad_loss == nullptr) {
    out[i] = class_weight * sigmoid_focal_loss_value(x[i], is_target, gamma, alpha);
  } else {
    out[i] = grad_loss[i] * class_weight * sigmoid_focal_loss_grad(x[i], is_target, gamma, alpha);
  }
}

at::Tensor run(const at::Tensor* grad_loss, const at::Tensor& input, const at::Tensor& target,
               const std::optional<at::Tensor>& weight, double gamma, double alpha) {
  TORCH_CHECK(input.dim() == 2 && input.is_contiguous(),
              "detops: input must be a contiguous (N, C) tensor");
  TORCH_CHECK(target.dim() == 1 && target.size(0) == input.size(0) && target.is_contiguous() &&
                  target.scalar_type() == at::kLong,
              "detops: target must be a contiguous int64 (N,) tensor");
  TORCH_CHECK(!weight.has_value() || (weight->numel() == input.size(1) &&
                                      weight->is_contiguous() &&
                                      weight->scalar_type() == input.scalar_type()),
              "detops: weight must be a contiguous (C,) tensor of the input's dtype");
  TORCH_CHECK(grad_loss == nullptr || (grad_loss->sizes() == input.sizes() &&
                                       grad_loss->is_contiguous()),
              "detops: grad_loss must be contiguous and shaped like input");
  const c10::cuda::CUDAGuard guard(input.device());
  auto out = at::empty_like(input);
  const int64_t count = input.numel();
  if (count == 0) return out;
  const int blocks = static_cast<int>((count + kThreads - 1) / kThreads);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "detops::sigmoid_focal_loss_cuda", [&] {
    using T = scalar_t;
    focal_loss_kernel<T><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        count, input.size(1), input.data_ptr<T>(), target.data_ptr<int64_t>(),
        weight.has_value() ? weight->data_ptr<T>() : nullptr,
        grad_loss != nullptr ? grad_loss->data_ptr<T>() : nullptr, static_cast<T>(gamma),
        static_cast<T>(alpha), out.data_ptr<T>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor forward_cuda(const at::Tensor& input, const at::Tensor& target,
                        const std::optional<at::Tensor>& weight, double gamma, double alpha) {
  return run(nullptr, input, target, weight, gamma, alpha);
}

at::Tensor backward_cuda(const at::Tensor& grad_loss, const at::Tensor& input,
                         const at::Tensor& target, const std::optional<at::Tensor>& weight,
                         double gamma, double alpha) {
  return run(&grad_loss, input, target, weight, gamma, alpha);
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("sigmoid_focal_loss_forward", &detops::forward_cuda);
  m.impl("sigmoid_focal_loss_backward", &detops::backward_cuda);
}
