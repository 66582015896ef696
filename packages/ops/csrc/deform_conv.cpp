// Deformable convolution (DCNv1) and its modulated form (DCNv2) on the CPU, with
// torchvision.ops.deform_conv2d's semantics: kernel tap k = i * kw + j of offset group g samples
// the input at
//   y = out_y * stride_h - pad_h + i * dilation_h + offset[2 * (g * K + k)]
//   x = out_x * stride_w - pad_w + j * dilation_w + offset[2 * (g * K + k) + 1]
// by bilinear interpolation with zero padding, scaled by mask[g * K + k] when given.
//
// The operator itself (checks, column buffer, matrix products) is in deform_conv_op.h; this
// file provides the CPU's column operations. Per image, a sampling plan (corner positions and
// weights of every (offset group, tap, pixel)) is built once and shared by the Cin / G
// channels of its group.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "deform_conv.h"
#include "deform_conv_op.h"

namespace detops {
namespace {

// plan[(g * K + k) * P + pixel] for one image.
template <typename T>
void build_plan(const DeformConvShape& cg, const T* offset, const T* mask,
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
void fill_columns(const DeformConvShape& cg, const T* image, const std::vector<DeformSample<T>>& plan,
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
void scatter_columns(const DeformConvShape& cg, const T* grad_columns,
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
void offset_mask_gradients(const DeformConvShape& cg, const T* image, const T* grad_columns,
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

// The CPU's column operations for deform_conv2d_forward / deform_conv2d_backward.
struct CpuColumns {
  template <typename T>
  static void fill(const DeformConvShape& s, const T* image, const T* offset, const T* mask,
                   T* columns) {
    std::vector<DeformSample<T>> plan;
    build_plan<T>(s, offset, mask, plan);
    fill_columns<T>(s, image, plan, columns);
  }

  template <typename T>
  static void scatter(const DeformConvShape& s, const T* image, const T* offset, const T* mask,
                      const T* grad_columns, T* grad_image, T* grad_offset, T* grad_mask) {
    std::vector<DeformSample<T>> plan;
    build_plan<T>(s, offset, mask, plan);
    scatter_columns<T>(s, grad_columns, plan, grad_image);
    offset_mask_gradients<T>(s, image, grad_columns, plan, grad_offset, grad_mask);
  }
};

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
  m.impl("deform_conv2d", &deform_conv2d_forward<CpuColumns>);
  m.impl("deform_conv2d_backward", &deform_conv2d_backward<CpuColumns>);
}

}  // namespace detops
