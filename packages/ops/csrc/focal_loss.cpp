// Sigmoid focal loss on the CPU with MMCV's conventions: logits (N, C), targets (N,) class
// indices where C means background, optional per-class weights (C,) applied to every logit
// of a sample of that class. Forward gives the unreduced (N, C) loss; backward multiplies
// the incoming gradient by the derivative in the same pass.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <optional>

#include "focal_loss.h"

namespace detops {
namespace {

constexpr int64_t kGrain = 4096;  // logits per task

void check_focal_inputs(const at::Tensor& input, const at::Tensor& target,
                        const std::optional<at::Tensor>& weight) {
  TORCH_CHECK(input.dim() == 2 && input.is_contiguous(),
              "detops: input must be a contiguous (N, C) tensor, got ", input.sizes());
  TORCH_CHECK(target.dim() == 1 && target.size(0) == input.size(0) && target.is_contiguous() &&
                  target.scalar_type() == at::kLong,
              "detops: target must be a contiguous int64 (N,) tensor, got ", target.sizes());
  if (weight.has_value()) {
    TORCH_CHECK(weight->dim() == 1 && weight->size(0) == input.size(1) &&
                    weight->is_contiguous() && weight->scalar_type() == input.scalar_type(),
                "detops: weight must be a contiguous (C,) tensor of the input's dtype");
  }
  const int64_t classes = input.size(1);
  const int64_t* t = target.data_ptr<int64_t>();
  for (int64_t i = 0; i < target.size(0); ++i)
    TORCH_CHECK(t[i] >= 0 && t[i] <= classes, "detops: target[", i, "] = ", t[i],
                " is outside 0..", classes, " (", classes, " means background)");
}

// Calls fn(index, x, is_target, class_weight) for every logit, in parallel.
template <typename T, typename Fn>
void for_each_logit(const at::Tensor& input, const at::Tensor& target,
                    const std::optional<at::Tensor>& weight, Fn fn) {
  const int64_t classes = input.size(1);
  const T* x = input.data_ptr<T>();
  const int64_t* t = target.data_ptr<int64_t>();
  const T* w = weight.has_value() ? weight->data_ptr<T>() : nullptr;
  at::parallel_for(0, input.numel(), kGrain, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) {
      const int64_t row_class = t[i / classes];
      const T class_weight = (w != nullptr && row_class < classes) ? w[row_class] : T(1);
      fn(i, x[i], row_class == i % classes, class_weight);
    }
  });
}

at::Tensor sigmoid_focal_loss_forward_cpu(const at::Tensor& input, const at::Tensor& target,
                                          const std::optional<at::Tensor>& weight, double gamma,
                                          double alpha) {
  check_focal_inputs(input, target, weight);
  auto loss = at::empty_like(input);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "detops::sigmoid_focal_loss_forward", [&] {
    using T = scalar_t;
    T* out = loss.data_ptr<T>();
    for_each_logit<T>(input, target, weight, [&](int64_t i, T x, bool is_target, T w) {
      out[i] = w * sigmoid_focal_loss_value(x, is_target, T(gamma), T(alpha));
    });
  });
  return loss;
}

at::Tensor sigmoid_focal_loss_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& input,
                                           const at::Tensor& target,
                                           const std::optional<at::Tensor>& weight,
                                           double gamma, double alpha) {
  check_focal_inputs(input, target, weight);
  TORCH_CHECK(grad_loss.sizes() == input.sizes() && grad_loss.is_contiguous() &&
                  grad_loss.scalar_type() == input.scalar_type(),
              "detops: grad_loss must be contiguous and shaped like input");
  auto grad_input = at::empty_like(input);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "detops::sigmoid_focal_loss_backward", [&] {
    using T = scalar_t;
    const T* g = grad_loss.data_ptr<T>();
    T* out = grad_input.data_ptr<T>();
    for_each_logit<T>(input, target, weight, [&](int64_t i, T x, bool is_target, T w) {
      out[i] = g[i] * w * sigmoid_focal_loss_grad(x, is_target, T(gamma), T(alpha));
    });
  });
  return grad_input;
}

}  // namespace
}  // namespace detops

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def(
      "sigmoid_focal_loss_forward(Tensor input, Tensor target, Tensor? weight, float gamma, "
      "float alpha) -> Tensor");
  m.def(
      "sigmoid_focal_loss_backward(Tensor grad_loss, Tensor input, Tensor target, Tensor? weight, "
      "float gamma, float alpha) -> Tensor");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("sigmoid_focal_loss_forward", &detops::sigmoid_focal_loss_forward_cpu);
  m.impl("sigmoid_focal_loss_backward", &detops::sigmoid_focal_loss_backward_cpu);
}
