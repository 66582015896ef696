// Deformable convolution (DCNv1) and its modulated form (DCNv2) on the CPU, with
// torchvision.ops.deform_conv2d's semantics: kernel tap k = i * kw + j of offset group g samples
// the input at
//   y = out_y * stride_h - pad_h + i * dilation_h + offset[2 * (g * K + k)]
//   x = out_x * stride_w - pad_w + j * dilation_w + offset[2 * (g * K + k) + 1]
// by bilinear interpolation with zero padding, scaled by mask[g * K + k] when given.
//
// Per image: the sampling plan (corner positions and weights of every (g, k, pixel)) is built
// once and shared by the Cin / G channels of the group; the samples fill a column buffer
// (Cin * K, P) and the output is one matrix product per convolution group.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <vector>

#include "deform_conv.h"

namespace detops {
namespace {

struct ConvGeometry {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w, out_h, out_w;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t groups, offset_groups;

  int64_t taps() const { return kernel_h * kernel_w; }
  int64_t pixels() const { return out_h * out_w; }
  int64_t channels_per_offset_group() const { return in_channels / offset_groups; }
};

// plan[(g * K + k) * P + pixel] for one image.
template <typename T>
void build_plan(const ConvGeometry& cg, const T* offset, const T* mask,
                std::vector<DeformSample<T>>& plan) {
  const int64_t K = cg.taps(), P = cg.pixels();
  const DeformConvGrid grid{cg.out_w, cg.stride_h, cg.stride_w, cg.pad_h, cg.pad_w,
                            cg.dilation_h, cg.dilation_w};
  plan.resize(cg.offset_groups * K * P);
  at::parallel_for(0, cg.offset_groups * K, 1, [&](int64_t begin, int64_t end) {
    for (int64_t gk = begin; gk < end; ++gk) {
      const int64_t g = gk / K, k = gk % K, i = k / cg.kernel_w, j = k % cg.kernel_w;
      const T* dy = offset + (g * 2 * K + 2 * k) * P;
      const T* dx = dy + P;
      const T* m = mask ? mask + (g * K + k) * P : nullptr;
      for (int64_t p = 0; p < P; ++p)
        plan[gk * P + p] = deform_sample(static_cast<T>(grid.base_y(p, i)) + dy[p],
                                         static_cast<T>(grid.base_x(p, j)) + dx[p],
                                         m ? m[p] : T(1), cg.height, cg.width);
    }
  });
}

// columns[(c * K + k) * P + pixel] = the modulated sample of channel c for tap k.
template <typename T>
void fill_columns(const ConvGeometry& cg, const T* image, const std::vector<DeformSample<T>>& plan,
                  T* columns) {
  const int64_t K = cg.taps(), P = cg.pixels(), plane_size = cg.height * cg.width;
  at::parallel_for(0, cg.in_channels * K, 1, [&](int64_t begin, int64_t end) {
    for (int64_t ck = begin; ck < end; ++ck) {
      const int64_t c = ck / K, k = ck % K;
      const T* plane = image + c * plane_size;
      const DeformSample<T>* samples = plan.data() + (c / cg.channels_per_offset_group() * K + k) * P;
      T* row = columns + ck * P;
      for (int64_t p = 0; p < P; ++p) row[p] = samples[p].read(plane);
    }
  });
}

// Parallel over channels, so every thread adds into its own grad_input planes.
template <typename T>
void scatter_columns(const ConvGeometry& cg, const T* grad_columns,
                     const std::vector<DeformSample<T>>& plan, T* grad_image) {
  const int64_t K = cg.taps(), P = cg.pixels(), plane_size = cg.height * cg.width;
  at::parallel_for(0, cg.in_channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      T* plane = grad_image + c * plane_size;
      for (int64_t k = 0; k < K; ++k) {
        const DeformSample<T>* samples = plan.data() + (c / cg.channels_per_offset_group() * K + k) * P;
        const T* row = grad_columns + (c * K + k) * P;
        for (int64_t p = 0; p < P; ++p)
          for (int i = 0; i < 4; ++i) plane[samples[p].pos[i]] += samples[p].weight[i] * row[p];
        }
    }
  });
}

// Gradients of the sampling positions and masks: for every (g, k, pixel), a sum over the
// channels of offset group g. Parallel over (g, k, pixel), each written by one thread.
template <typename T>
void offset_mask_gradients(const ConvGeometry& cg, const T* image, const T* grad_columns,
                           const std::vector<DeformSample<T>>& plan, T* grad_offset,
                           T* grad_mask) {
  const int64_t K = cg.taps(), P = cg.pixels(), plane_size = cg.height * cg.width;
  const int64_t group_channels = cg.channels_per_offset_group();
  at::parallel_for(0, cg.offset_groups * K * P, 256, [&](int64_t begin, int64_t end) {
    for (int64_t first = begin; first < end;) {
      const int64_t gk = first / P, g = gk / K, k = gk % K;
      const int64_t p_begin = first % P, p_end = std::min(P, p_begin + end - first);
      T* gy = grad_offset + (g * 2 * K + 2 * k) * P;
      T* gx = gy + P;
      T* gm = grad_mask ? grad_mask + gk * P : nullptr;
      const DeformSample<T>* samples = plan.data() + gk * P;
      for (int64_t c = g * group_channels; c < (g + 1) * group_channels; ++c) {
        const T* plane = image + c * plane_size;
        const T* row = grad_columns + (c * K + k) * P;
        for (int64_t p = p_begin; p < p_end; ++p) {
          if (!samples[p].inside) continue;
          const auto d = deform_sample_grad(samples[p], plane, row[p]);
          gy[p] += d.dy;
          gx[p] += d.dx;
          if (gm) gm[p] += d.dmask;
        }
      }
      first += p_end - p_begin;
    }
  });
}

template <typename T>
void forward_kernel(const ConvGeometry& cg, const at::Tensor& input, const at::Tensor& weight,
                    const at::Tensor& offset, const at::Tensor& mask, at::Tensor& output) {
  const int64_t K = cg.taps(), P = cg.pixels();
  const int64_t in_per_group = cg.in_channels / cg.groups, out_per_group = cg.out_channels / cg.groups;
  auto columns = at::empty({cg.groups, in_per_group * K, P}, input.options());
  const auto w = weight.view({cg.groups, out_per_group, in_per_group * K});
  std::vector<DeformSample<T>> plan;
  for (int64_t b = 0; b < cg.batch; ++b) {
    build_plan<T>(cg, offset[b].const_data_ptr<T>(),
                  mask.defined() ? mask[b].const_data_ptr<T>() : nullptr, plan);
    fill_columns<T>(cg, input[b].const_data_ptr<T>(), plan, columns.mutable_data_ptr<T>());
    auto out = output[b].view({cg.groups, out_per_group, P});
    for (int64_t g = 0; g < cg.groups; ++g) {
      auto out_g = out[g];
      at::mm_out(out_g, w[g], columns[g]);
    }
  }
}

template <typename T>
void backward_kernel(const ConvGeometry& cg, const at::Tensor& grad_output,
                     const at::Tensor& input, const at::Tensor& weight, const at::Tensor& offset,
                     const at::Tensor& mask, at::Tensor& grad_input, at::Tensor& grad_weight,
                     at::Tensor& grad_offset, at::Tensor& grad_mask) {
  const int64_t K = cg.taps(), P = cg.pixels();
  const int64_t in_per_group = cg.in_channels / cg.groups, out_per_group = cg.out_channels / cg.groups;
  auto columns = at::empty({cg.groups, in_per_group * K, P}, input.options());
  auto grad_columns = at::empty_like(columns);
  const auto w = weight.view({cg.groups, out_per_group, in_per_group * K});
  auto gw = grad_weight.view({cg.groups, out_per_group, in_per_group * K});
  std::vector<DeformSample<T>> plan;
  for (int64_t b = 0; b < cg.batch; ++b) {
    const T* image = input[b].const_data_ptr<T>();
    build_plan<T>(cg, offset[b].const_data_ptr<T>(),
                  mask.defined() ? mask[b].const_data_ptr<T>() : nullptr, plan);
    fill_columns<T>(cg, image, plan, columns.mutable_data_ptr<T>());
    const auto grad_out = grad_output[b].view({cg.groups, out_per_group, P});
    for (int64_t g = 0; g < cg.groups; ++g) {
      gw[g].addmm_(grad_out[g], columns[g].t());
      auto grad_columns_g = grad_columns[g];
      at::mm_out(grad_columns_g, w[g].t(), grad_out[g]);
    }
    const T* gcol = grad_columns.const_data_ptr<T>();
    scatter_columns<T>(cg, gcol, plan, grad_input[b].mutable_data_ptr<T>());
    offset_mask_gradients<T>(cg, image, gcol, plan, grad_offset[b].mutable_data_ptr<T>(),
                             mask.defined() ? grad_mask[b].mutable_data_ptr<T>() : nullptr);
  }
}

// float16 and bfloat16 are computed in float32; the kernels are instantiated for float/double.
at::ScalarType compute_type(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

ConvGeometry check_geometry(const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                            const std::optional<at::Tensor>& bias, int64_t stride_h,
                            int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                            int64_t dilation_w) {
  TORCH_CHECK(input.dim() == 4, "detops.deform_conv2d: input must be (N, C, H, W), got ",
              input.sizes());
  TORCH_CHECK(weight.dim() == 4, "detops.deform_conv2d: weight must be (O, C/groups, kh, kw), got ",
              weight.sizes());
  TORCH_CHECK(offset.dim() == 4, "detops.deform_conv2d: offset must be (N, 2*G*kh*kw, Ho, Wo), got ",
              offset.sizes());
  TORCH_CHECK(stride_h > 0 && stride_w > 0 && dilation_h > 0 && dilation_w > 0 && pad_h >= 0 &&
                  pad_w >= 0,
              "detops.deform_conv2d: stride and dilation must be positive, padding non-negative");
  ConvGeometry cg{};
  cg.batch = input.size(0);
  cg.in_channels = input.size(1);
  cg.height = input.size(2);
  cg.width = input.size(3);
  cg.out_channels = weight.size(0);
  cg.kernel_h = weight.size(2);
  cg.kernel_w = weight.size(3);
  cg.stride_h = stride_h;
  cg.stride_w = stride_w;
  cg.pad_h = pad_h;
  cg.pad_w = pad_w;
  cg.dilation_h = dilation_h;
  cg.dilation_w = dilation_w;
  cg.out_h = (cg.height + 2 * pad_h - (dilation_h * (cg.kernel_h - 1) + 1)) / stride_h + 1;
  cg.out_w = (cg.width + 2 * pad_w - (dilation_w * (cg.kernel_w - 1) + 1)) / stride_w + 1;
  TORCH_CHECK(cg.out_h > 0 && cg.out_w > 0 && cg.kernel_h > 0 && cg.kernel_w > 0,
              "detops.deform_conv2d: the output would be empty (input ", input.sizes(),
              ", kernel ", weight.sizes(), ")");
  TORCH_CHECK(weight.size(1) > 0 && cg.in_channels % weight.size(1) == 0,
              "detops.deform_conv2d: input channels ", cg.in_channels,
              " are not a multiple of weight.shape[1] ", weight.size(1));
  cg.groups = cg.in_channels / weight.size(1);
  TORCH_CHECK(cg.out_channels % cg.groups == 0, "detops.deform_conv2d: out channels ",
              cg.out_channels, " are not divisible by groups ", cg.groups);
  TORCH_CHECK(offset.size(1) > 0 && offset.size(1) % (2 * cg.taps()) == 0,
              "detops.deform_conv2d: offset channels ", offset.size(1),
              " must be a multiple of 2 * kh * kw = ", 2 * cg.taps());
  cg.offset_groups = offset.size(1) / (2 * cg.taps());
  TORCH_CHECK(cg.in_channels % cg.offset_groups == 0, "detops.deform_conv2d: input channels ",
              cg.in_channels, " are not divisible by offset groups ", cg.offset_groups);
  TORCH_CHECK(offset.size(0) == cg.batch && offset.size(2) == cg.out_h && offset.size(3) == cg.out_w,
              "detops.deform_conv2d: offset must be (", cg.batch, ", ", offset.size(1), ", ",
              cg.out_h, ", ", cg.out_w, "), got ", offset.sizes());
  if (mask)
    TORCH_CHECK(mask->dim() == 4 && mask->size(0) == cg.batch &&
                    mask->size(1) == cg.offset_groups * cg.taps() && mask->size(2) == cg.out_h &&
                    mask->size(3) == cg.out_w,
                "detops.deform_conv2d: mask must be (", cg.batch, ", ",
                cg.offset_groups * cg.taps(), ", ", cg.out_h, ", ", cg.out_w, "), got ",
                mask->sizes());
  if (bias)
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == cg.out_channels,
                "detops.deform_conv2d: bias must be (", cg.out_channels, ",), got ", bias->sizes());
  TORCH_CHECK(cg.height * cg.width < std::numeric_limits<int32_t>::max(),
              "detops.deform_conv2d: feature maps above 2^31 pixels are not supported");
  return cg;
}

at::Tensor deform_conv2d_cpu(const at::Tensor& input, const at::Tensor& weight,
                             const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                             const std::optional<at::Tensor>& bias, int64_t stride_h,
                             int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                             int64_t dilation_w) {
  const auto cg = check_geometry(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
                                 pad_w, dilation_h, dilation_w);
  const auto type = compute_type(input.scalar_type());
  TORCH_CHECK(at::isFloatingType(type), "detops.deform_conv2d: input must be floating point");
  const auto x = input.to(type).contiguous();
  const auto w = weight.to(type).contiguous();
  const auto off = offset.to(type).contiguous();
  const auto m = mask ? mask->to(type).contiguous() : at::Tensor();
  auto output = at::empty({cg.batch, cg.out_channels, cg.out_h, cg.out_w}, x.options());
  if (output.numel() > 0) {
    AT_DISPATCH_FLOATING_TYPES(type, "detops_deform_conv2d",
                               [&] { forward_kernel<scalar_t>(cg, x, w, off, m, output); });
    if (bias) output.add_(bias->to(type).view({1, cg.out_channels, 1, 1}));
  }
  return output.to(input.scalar_type());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> deform_conv2d_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const at::Tensor& offset, const std::optional<at::Tensor>& mask,
    const std::optional<at::Tensor>& bias, int64_t stride_h, int64_t stride_w, int64_t pad_h,
    int64_t pad_w, int64_t dilation_h, int64_t dilation_w) {
  const auto cg = check_geometry(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
                                 pad_w, dilation_h, dilation_w);
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == cg.batch &&
                  grad_output.size(1) == cg.out_channels && grad_output.size(2) == cg.out_h &&
                  grad_output.size(3) == cg.out_w,
              "detops.deform_conv2d_backward: grad_output must be (", cg.batch, ", ",
              cg.out_channels, ", ", cg.out_h, ", ", cg.out_w, "), got ", grad_output.sizes());
  const auto type = compute_type(input.scalar_type());
  const auto g = grad_output.to(type).contiguous();
  const auto x = input.to(type).contiguous();
  const auto w = weight.to(type).contiguous();
  const auto off = offset.to(type).contiguous();
  const auto m = mask ? mask->to(type).contiguous() : at::Tensor();
  auto grad_input = at::zeros_like(x);
  auto grad_weight = at::zeros_like(w);
  auto grad_offset = at::zeros_like(off);
  auto grad_mask = mask ? at::zeros_like(m) : at::empty({0}, x.options());
  if (g.numel() > 0)
    AT_DISPATCH_FLOATING_TYPES(type, "detops_deform_conv2d_backward", [&] {
      backward_kernel<scalar_t>(cg, g, x, w, off, m, grad_input, grad_weight, grad_offset,
                                grad_mask);
    });
  auto grad_bias = bias ? g.sum({0, 2, 3}).to(bias->scalar_type()) : at::empty({0}, x.options());
  return {grad_input.to(input.scalar_type()), grad_weight.to(weight.scalar_type()),
          grad_offset.to(offset.scalar_type()),
          mask ? grad_mask.to(mask->scalar_type()) : grad_mask, grad_bias};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(detops, m) {
  m.def(
      "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor? mask, Tensor? bias, "
      "int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h, int dilation_w) -> Tensor");
  m.def(
      "deform_conv2d_backward(Tensor grad_output, Tensor input, Tensor weight, Tensor offset, "
      "Tensor? mask, Tensor? bias, int stride_h, int stride_w, int pad_h, int pad_w, "
      "int dilation_h, int dilation_w) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(detops, CPU, m) {
  m.impl("deform_conv2d", &deform_conv2d_cpu);
  m.impl("deform_conv2d_backward", &deform_conv2d_backward_cpu);
}

}  // namespace detops
