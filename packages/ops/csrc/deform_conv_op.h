// The deform_conv2d operator around its device kernels, shared by the CPU (deform_conv.cpp) and
// CUDA (cuda/deform_conv_cuda.cu) implementations: argument checks, dtype handling and the
// per-image algorithm. For every image, the sampled input fills a column buffer of shape
// (Cin * K, P) (K kernel taps, P output pixels, rows c * K + k); the output is one matrix
// product per convolution group, and the backward pass multiplies back into column gradients
// that are scattered onto the input, offsets and masks.
//
// A device provides `Columns`, a class with two static templates working on one image:
//   fill<T>(shape, image, offset, mask, columns)
//   scatter<T>(shape, image, offset, mask, grad_columns, grad_image, grad_offset, grad_mask)
// (mask and grad_mask are nullptr without modulation).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>

namespace detops {

struct DeformConvShape {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w, out_h, out_w;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t groups, offset_groups;

  int64_t taps() const { return kernel_h * kernel_w; }
  int64_t pixels() const { return out_h * out_w; }
  int64_t channels_per_offset_group() const { return in_channels / offset_groups; }
};

inline DeformConvShape deform_conv_shape(const at::Tensor& input, const at::Tensor& weight,
                                         const at::Tensor& offset,
                                         const std::optional<at::Tensor>& mask,
                                         const std::optional<at::Tensor>& bias, int64_t stride_h,
                                         int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                         int64_t dilation_h, int64_t dilation_w) {
  TORCH_CHECK(input.dim() == 4 && weight.dim() == 4 && offset.dim() == 4,
              "detops.deform_conv2d: input (N, C, H, W), weight (O, C/groups, kh, kw) and offset "
              "(N, 2*G*kh*kw, Ho, Wo) must be 4-D, got ", input.sizes(), ", ", weight.sizes(),
              ", ", offset.sizes());
  TORCH_CHECK(at::isFloatingType(input.scalar_type()),
              "detops.deform_conv2d: input must be floating point, got ", input.scalar_type());
  TORCH_CHECK(stride_h > 0 && stride_w > 0 && dilation_h > 0 && dilation_w > 0 && pad_h >= 0 &&
                  pad_w >= 0,
              "detops.deform_conv2d: stride and dilation must be positive, padding non-negative");
  DeformConvShape s{};
  s.batch = input.size(0);
  s.in_channels = input.size(1);
  s.height = input.size(2);
  s.width = input.size(3);
  s.out_channels = weight.size(0);
  s.kernel_h = weight.size(2);
  s.kernel_w = weight.size(3);
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  s.dilation_h = dilation_h;
  s.dilation_w = dilation_w;
  s.out_h = (s.height + 2 * pad_h - (dilation_h * (s.kernel_h - 1) + 1)) / stride_h + 1;
  s.out_w = (s.width + 2 * pad_w - (dilation_w * (s.kernel_w - 1) + 1)) / stride_w + 1;
  TORCH_CHECK(s.out_h > 0 && s.out_w > 0 && s.kernel_h > 0 && s.kernel_w > 0,
              "detops.deform_conv2d: the output would be empty (input ", input.sizes(),
              ", kernel ", weight.sizes(), ")");
  TORCH_CHECK(weight.size(1) > 0 && s.in_channels % weight.size(1) == 0,
              "detops.deform_conv2d: input channels ", s.in_channels,
              " are not a multiple of weight.shape[1] ", weight.size(1));
  s.groups = s.in_channels / weight.size(1);
  TORCH_CHECK(s.out_channels % s.groups == 0, "detops.deform_conv2d: out channels ",
              s.out_channels, " are not divisible by groups ", s.groups);
  TORCH_CHECK(offset.size(1) > 0 && offset.size(1) % (2 * s.taps()) == 0,
              "detops.deform_conv2d: offset channels ", offset.size(1),
              " must be a multiple of 2 * kh * kw = ", 2 * s.taps());
  s.offset_groups = offset.size(1) / (2 * s.taps());
  TORCH_CHECK(s.in_channels % s.offset_groups == 0, "detops.deform_conv2d: input channels ",
              s.in_channels, " are not divisible by offset groups ", s.offset_groups);
  TORCH_CHECK(offset.size(0) == s.batch && offset.size(2) == s.out_h && offset.size(3) == s.out_w,
              "detops.deform_conv2d: offset must be (", s.batch, ", ", offset.size(1), ", ",
              s.out_h, ", ", s.out_w, "), got ", offset.sizes());
  TORCH_CHECK(!mask || (mask->dim() == 4 && mask->size(0) == s.batch &&
                        mask->size(1) == s.offset_groups * s.taps() &&
                        mask->size(2) == s.out_h && mask->size(3) == s.out_w),
              "detops.deform_conv2d: mask must be (", s.batch, ", ", s.offset_groups * s.taps(),
              ", ", s.out_h, ", ", s.out_w, ")");
  TORCH_CHECK(!bias || (bias->dim() == 1 && bias->size(0) == s.out_channels),
              "detops.deform_conv2d: bias must be (", s.out_channels, ",)");
  for (const at::Tensor* t : {&weight, &offset, mask ? &*mask : nullptr, bias ? &*bias : nullptr})
    TORCH_CHECK(t == nullptr || t->device() == input.device(),
                "detops.deform_conv2d: all tensors must be on ", input.device());
  TORCH_CHECK(s.height * s.width < std::numeric_limits<int32_t>::max(),
              "detops.deform_conv2d: feature maps above 2^31 pixels are not supported");
  return s;
}

// float16 and bfloat16 are computed in float32; the kernels are instantiated for float/double.
inline at::ScalarType deform_conv_compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

inline at::Tensor deform_conv_operand(const at::Tensor& t, at::ScalarType type) {
  return t.to(type).contiguous();
}

inline at::Tensor deform_conv_operand(const std::optional<at::Tensor>& t, at::ScalarType type) {
  return t ? t->to(type).contiguous() : at::Tensor();
}

template <typename Columns>
at::Tensor deform_conv2d_forward(const at::Tensor& input, const at::Tensor& weight,
                                 const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                                 const std::optional<at::Tensor>& bias, int64_t stride_h,
                                 int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                 int64_t dilation_h, int64_t dilation_w) {
  const auto s = deform_conv_shape(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
                                   pad_w, dilation_h, dilation_w);
  const auto type = deform_conv_compute_type(input.scalar_type());
  const auto x = deform_conv_operand(input, type), w = deform_conv_operand(weight, type);
  const auto off = deform_conv_operand(offset, type), m = deform_conv_operand(mask, type);
  auto output = at::empty({s.batch, s.out_channels, s.out_h, s.out_w}, x.options());
  if (output.numel() == 0) return output.to(input.scalar_type());
  const int64_t K = s.taps(), P = s.pixels();
  const int64_t in_per_group = s.in_channels / s.groups, out_per_group = s.out_channels / s.groups;
  auto columns = at::empty({s.groups, in_per_group * K, P}, x.options());
  const auto w_groups = w.view({s.groups, out_per_group, in_per_group * K});
  AT_DISPATCH_FLOATING_TYPES(type, "detops_deform_conv2d", [&] {
    for (int64_t b = 0; b < s.batch; ++b) {
      Columns::template fill<scalar_t>(s, x[b].const_data_ptr<scalar_t>(),
                                       off[b].const_data_ptr<scalar_t>(),
                                       m.defined() ? m[b].const_data_ptr<scalar_t>() : nullptr,
                                       columns.mutable_data_ptr<scalar_t>());
      auto out = output[b].view({s.groups, out_per_group, P});
      for (int64_t g = 0; g < s.groups; ++g) {
        auto out_g = out[g];
        at::mm_out(out_g, w_groups[g], columns[g]);
      }
    }
  });
  if (bias) output.add_(bias->to(type).view({1, s.out_channels, 1, 1}));
  return output.to(input.scalar_type());
}

template <typename Columns>
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> deform_conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const at::Tensor& offset, const std::optional<at::Tensor>& mask,
    const std::optional<at::Tensor>& bias, int64_t stride_h, int64_t stride_w, int64_t pad_h,
    int64_t pad_w, int64_t dilation_h, int64_t dilation_w) {
  const auto s = deform_conv_shape(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
                                   pad_w, dilation_h, dilation_w);
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == s.batch &&
                  grad_output.size(1) == s.out_channels && grad_output.size(2) == s.out_h &&
                  grad_output.size(3) == s.out_w && grad_output.device() == input.device(),
              "detops.deform_conv2d_backward: grad_output must be (", s.batch, ", ",
              s.out_channels, ", ", s.out_h, ", ", s.out_w, ") on ", input.device(), ", got ",
              grad_output.sizes());
  const auto type = deform_conv_compute_type(input.scalar_type());
  const auto g = deform_conv_operand(grad_output, type), x = deform_conv_operand(input, type);
  const auto w = deform_conv_operand(weight, type), off = deform_conv_operand(offset, type);
  const auto m = deform_conv_operand(mask, type);
  auto grad_input = at::zeros_like(x);
  auto grad_weight = at::zeros_like(w);
  auto grad_offset = at::zeros_like(off);
  auto grad_mask = mask ? at::zeros_like(m) : at::empty({0}, x.options());
  const int64_t K = s.taps(), P = s.pixels();
  const int64_t in_per_group = s.in_channels / s.groups, out_per_group = s.out_channels / s.groups;
  if (g.numel() > 0) {
    auto columns = at::empty({s.groups, in_per_group * K, P}, x.options());
    auto grad_columns = at::empty_like(columns);
    const auto w_groups = w.view({s.groups, out_per_group, in_per_group * K});
    auto grad_w_groups = grad_weight.view({s.groups, out_per_group, in_per_group * K});
    AT_DISPATCH_FLOATING_TYPES(type, "detops_deform_conv2d_backward", [&] {
      using T = scalar_t;
      for (int64_t b = 0; b < s.batch; ++b) {
        const T* image = x[b].const_data_ptr<T>();
        const T* offset_b = off[b].const_data_ptr<T>();
        const T* mask_b = m.defined() ? m[b].const_data_ptr<T>() : nullptr;
        Columns::template fill<T>(s, image, offset_b, mask_b, columns.mutable_data_ptr<T>());
        const auto grad_out = g[b].view({s.groups, out_per_group, P});
        for (int64_t group = 0; group < s.groups; ++group) {
          grad_w_groups[group].addmm_(grad_out[group], columns[group].t());
          auto grad_columns_g = grad_columns[group];
          at::mm_out(grad_columns_g, w_groups[group].t(), grad_out[group]);
        }
        Columns::template scatter<T>(s, image, offset_b, mask_b, grad_columns.const_data_ptr<T>(),
                                     grad_input[b].mutable_data_ptr<T>(),
                                     grad_offset[b].mutable_data_ptr<T>(),
                                     mask ? grad_mask[b].mutable_data_ptr<T>() : nullptr);
      }
    });
  }
  auto grad_bias = bias ? g.sum({0, 2, 3}).to(bias->scalar_type()) : at::empty({0}, x.options());
  return {grad_input.to(input.scalar_type()), grad_weight.to(weight.scalar_type()),
          grad_offset.to(offset.scalar_type()),
          mask ? grad_mask.to(mask->scalar_type()) : grad_mask, grad_bias};
}

}  // namespace detops
