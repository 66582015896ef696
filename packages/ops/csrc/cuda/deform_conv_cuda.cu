// Deformable convolution on CUDA: the column operations of deform_conv_op.h, one thread per
// column element (fill, scatter onto the input with atomic adds) and one per
// (offset group, tap, pixel) for the offset and mask gradients, which sum over the group's
// channels. Sampling follows deform_conv.h, exactly as on the CPU.
#include <ATen/ATen.h>
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

#include "../deform_conv.h"
#include "../deform_conv_op.h"

namespace detops {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t count) {
  return static_cast<int>(std::min<int64_t>((count + kThreads - 1) / kThreads, 65535));
}

// The launch-time copy of what the kernels need from DeformConvShape.
struct Geometry {
  int64_t channels, height, width, taps, kernel_w, pixels, group_channels;
  DeformConvGrid grid;
};

Geometry geometry_of(const DeformConvShape& s) {
  return {s.in_channels, s.height, s.width, s.taps(), s.kernel_w, s.pixels(),
          s.channels_per_offset_group(),
          {s.out_w, s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.dilation_h, s.dilation_w}};
}

// The sample of tap k of offset group g at output pixel p.
template <typename T>
__device__ DeformSample<T> sample_at(const Geometry& geo, const T* offset, const T* mask,
                                     int64_t g, int64_t k, int64_t p) {
  const T* dy = offset + (g * 2 * geo.taps + 2 * k) * geo.pixels;
  const T* dx = dy + geo.pixels;
  const T m = mask ? mask[(g * geo.taps + k) * geo.pixels + p] : T(1);
  return deform_sample(static_cast<T>(geo.grid.base_y(p, k / geo.kernel_w)) + dy[p],
                       static_cast<T>(geo.grid.base_x(p, k % geo.kernel_w)) + dx[p], m,
                       geo.height, geo.width);
}

// index = (c * K + k) * P + p over the column buffer.
template <typename T>
__global__ void fill_kernel(int64_t count, Geometry geo, const T* image, const T* offset,
                            const T* mask, T* columns) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t p = index % geo.pixels, k = (index / geo.pixels) % geo.taps;
    const int64_t c = index / (geo.pixels * geo.taps);
    const auto s = sample_at(geo, offset, mask, c / geo.group_channels, k, p);
    columns[index] = s.read(image + c * geo.height * geo.width);
  }
}

template <typename T>
__global__ void scatter_input_kernel(int64_t count, Geometry geo, const T* offset,
                                     const T* mask, const T* grad_columns, T* grad_image) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t p = index % geo.pixels, k = (index / geo.pixels) % geo.taps;
    const int64_t c = index / (geo.pixels * geo.taps);
    const auto s = sample_at(geo, offset, mask, c / geo.group_channels, k, p);
    T* plane = grad_image + c * geo.height * geo.width;
    for (int i = 0; i < 4; ++i)
      if ((s.inside >> i) & 1) gpuAtomicAdd(plane + s.pos[i], s.weight[i] * grad_columns[index]);
  }
}

// index = (g * K + k) * P + p.
template <typename T>
__global__ void offset_mask_kernel(int64_t count, Geometry geo, const T* image, const T* offset,
                                   const T* mask, const T* grad_columns, T* grad_offset,
                                   T* grad_mask) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
       index < count; index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t p = index % geo.pixels, gk = index / geo.pixels;
    const int64_t g = gk / geo.taps, k = gk % geo.taps;
    const auto s = sample_at(geo, offset, mask, g, k, p);
    T dy = 0, dx = 0, dmask = 0;
    if (s.inside)
      for (int64_t c = g * geo.group_channels; c < (g + 1) * geo.group_channels; ++c) {
        const auto d = deform_sample_grad(s, image + c * geo.height * geo.width,
                                          grad_columns[(c * geo.taps + k) * geo.pixels + p]);
        dy += d.dy;
        dx += d.dx;
        dmask += d.dmask;
      }
    grad_offset[(g * 2 * geo.taps + 2 * k) * geo.pixels + p] = dy;
    grad_offset[(g * 2 * geo.taps + 2 * k + 1) * geo.pixels + p] = dx;
    if (grad_mask) grad_mask[index] = dmask;
  }
}

struct CudaColumns {
  template <typename T>
  static void fill(const DeformConvShape& s, const T* image, const T* offset, const T* mask,
                   T* columns) {
    const int64_t count = s.in_channels * s.taps() * s.pixels();
    fill_kernel<T><<<blocks_for(count), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        count, geometry_of(s), image, offset, mask, columns);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  template <typename T>
  static void scatter(const DeformConvShape& s, const T* image, const T* offset, const T* mask,
                      const T* grad_columns, T* grad_image, T* grad_offset, T* grad_mask) {
    const auto stream = c10::cuda::getCurrentCUDAStream();
    const int64_t columns = s.in_channels * s.taps() * s.pixels();
    scatter_input_kernel<T><<<blocks_for(columns), kThreads, 0, stream>>>(
        columns, geometry_of(s), offset, mask, grad_columns, grad_image);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    const int64_t samples = s.offset_groups * s.taps() * s.pixels();
    offset_mask_kernel<T><<<blocks_for(samples), kThreads, 0, stream>>>(
        samples, geometry_of(s), image, offset, mask, grad_columns, grad_offset, grad_mask);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
};

at::Tensor deform_conv2d_cuda(const at::Tensor& input, const at::Tensor& weight,
                              const at::Tensor& offset, const std::optional<at::Tensor>& mask,
                              const std::optional<at::Tensor>& bias, int64_t stride_h,
                              int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                              int64_t dilation_w) {
  const c10::cuda::CUDAGuard guard(input.device());
  return deform_conv2d_forward<CudaColumns>(input, weight, offset, mask, bias, stride_h, stride_w,
                                            pad_h, pad_w, dilation_h, dilation_w);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> deform_conv2d_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const at::Tensor& offset, const std::optional<at::Tensor>& mask,
    const std::optional<at::Tensor>& bias, int64_t stride_h, int64_t stride_w, int64_t pad_h,
    int64_t pad_w, int64_t dilation_h, int64_t dilation_w) {
  const c10::cuda::CUDAGuard guard(input.device());
  return deform_conv2d_backward<CudaColumns>(grad_output, input, weight, offset, mask, bias,
                                             stride_h, stride_w, pad_h, pad_w, dilation_h,
                                             dilation_w);
}

}  // namespace

TORCH_LIBRARY_IMPL(detops, CUDA, m) {
  m.impl("deform_conv2d", &deform_conv2d_cuda);
  m.impl("deform_conv2d_backward", &deform_conv2d_backward_cuda);
}

}  // namespace detops
