// Front-to-back compositing of projected 2D Gaussians on the CPU, forward and backward, with gsplat 1.4's
// conventions (pixel centres at +0.5, alpha = min(0.999, opacity * exp(power)), Gaussians with alpha < 1/255 skipped,
// a pixel stops before the Gaussian that would take its transmittance to 1e-4 or below). Gaussians reach a tile
// through a list sorted by tile and then depth (built in Python, splatting/tiles.py); tiles run in parallel (OpenMP).
#include <torch/extension.h>
#include <omp.h>
#include <cmath>
#include <vector>

namespace {

constexpr float kMinAlpha = 1.0f / 255.0f;
constexpr float kMaxAlpha = 0.999f;
constexpr float kMinTransmittance = 1e-4f;

struct Tiles {
  int64_t tile_size, tiles_x, tiles_y, width, height;
};

// The power below which a Gaussian of this opacity cannot reach kMinAlpha (opacity * exp(power) < 1/255), less a
// margin far above float rounding: a pixel further out is skipped without its exp, and no pixel's result changes.
inline float power_floor(float opacity) { return std::log(kMinAlpha / opacity) - 1e-3f; }

// alpha of Gaussian g at pixel centre (px, py); returns false when it is skipped; g_exp is exp(power).
inline bool gaussian_alpha(const float* mean, const float* conic, float opacity, float floor, float px, float py,
                           float& alpha, float& g_exp, float& dx, float& dy) {
  dx = mean[0] - px;
  dy = mean[1] - py;
  const float power = -0.5f * (conic[0] * dx * dx + conic[2] * dy * dy) - conic[1] * dx * dy;
  if (power > 0.0f || power < floor) return false;
  g_exp = std::exp(power);
  alpha = std::min(kMaxAlpha, opacity * g_exp);
  return alpha >= kMinAlpha;
}

// Calls f(px, py, pix) for every pixel of a tile, row by row: its centre (x + 0.5, y + 0.5) and its row-major index.
template <typename F>
inline void for_each_pixel(const Tiles& t, int64_t tile, F&& f) {
  const int64_t x0 = (tile % t.tiles_x) * t.tile_size, y0 = (tile / t.tiles_x) * t.tile_size;
  for (int64_t y = y0; y < std::min(y0 + t.tile_size, t.height); ++y)
    for (int64_t x = x0; x < std::min(x0 + t.tile_size, t.width); ++x) f(x + 0.5f, y + 0.5f, y * t.width + x);
}

// A tile's Gaussians copied next to each other, in the tile's order: every pixel of the tile walks this list.
struct TileGaussians {
  std::vector<float> mean, conic, opacity, floor, color;
  TileGaussians(const float* m, const float* q, const float* c, const float* o, const int32_t* ids, int32_t count,
                int64_t channels)
      : mean(2 * count), conic(3 * count), opacity(count), floor(count), color(channels * count) {
    for (int32_t k = 0; k < count; ++k) {
      const int32_t g = ids[k];
      for (int j = 0; j < 2; ++j) mean[2 * k + j] = m[2 * g + j];
      for (int j = 0; j < 3; ++j) conic[3 * k + j] = q[3 * g + j];
      opacity[k] = o[g];
      floor[k] = power_floor(o[g]);
      for (int64_t d = 0; d < channels; ++d) color[k * channels + d] = c[g * channels + d];
    }
  }
};

}  // namespace

// Returns colours [H, W, D], alphas [H, W], last [H, W] (int32: one past the list position of the pixel's last
// composited Gaussian; the backward pass walks back from there) and the final transmittance [H, W] (kept as such:
// 1 - alpha loses its digits where the pixel is nearly opaque, and the backward pass divides it back up).
std::vector<torch::Tensor> forward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor colors,
                                   torch::Tensor opacities, torch::Tensor tile_offsets, torch::Tensor flatten_ids,
                                   int64_t width, int64_t height, int64_t tile_size) {
  const int64_t channels = colors.size(1);
  const Tiles t{tile_size, (width + tile_size - 1) / tile_size, (height + tile_size - 1) / tile_size, width, height};
  auto out_colors = torch::zeros({height, width, channels}, colors.options());
  auto out_alphas = torch::zeros({height, width}, colors.options());
  auto last = torch::zeros({height, width}, tile_offsets.options());
  auto transmittance = torch::ones({height, width}, colors.options());
  const float* m = means2d.data_ptr<float>();
  const float* q = conics.data_ptr<float>();
  const float* c = colors.data_ptr<float>();
  const float* o = opacities.data_ptr<float>();
  const int32_t* offsets = tile_offsets.data_ptr<int32_t>();
  const int32_t* ids = flatten_ids.data_ptr<int32_t>();
  float* oc = out_colors.data_ptr<float>();
  float* oa = out_alphas.data_ptr<float>();
  int32_t* ol = last.data_ptr<int32_t>();
  float* ot = transmittance.data_ptr<float>();
  const int64_t num_tiles = t.tiles_x * t.tiles_y;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t tile = 0; tile < num_tiles; ++tile) {
    const int32_t start = offsets[tile], count = offsets[tile + 1] - start;
    TileGaussians local(m, q, c, o, ids + start, count, channels);
    std::vector<float> acc(channels);
    for_each_pixel(t, tile, [&](float px, float py, int64_t pix) {
      float T = 1.0f;
      int32_t stop = start;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int32_t k = 0; k < count; ++k) {
        float alpha, g_exp, dx, dy;
        if (!gaussian_alpha(&local.mean[2 * k], &local.conic[3 * k], local.opacity[k], local.floor[k], px, py, alpha,
                            g_exp, dx, dy))
          continue;
        const float next_T = T * (1.0f - alpha);
        if (next_T <= kMinTransmittance) break;
        const float w = alpha * T;
        for (int64_t d = 0; d < channels; ++d) acc[d] += local.color[k * channels + d] * w;
        T = next_T;
        stop = start + k + 1;
      }
      for (int64_t d = 0; d < channels; ++d) oc[pix * channels + d] = acc[d];
      oa[pix] = 1.0f - T;
      ol[pix] = stop;
      ot[pix] = T;
    });
  }
  return {out_colors, out_alphas, last, transmittance};
}

// Gradients of the forward pass's inputs from those of its outputs: means2d [N, 2], conics [N, 3], colors [N, D],
// opacities [N]. Each thread accumulates into its own buffers (a Gaussian spans tiles of several threads).
std::vector<torch::Tensor> backward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor colors,
                                    torch::Tensor opacities, torch::Tensor tile_offsets, torch::Tensor flatten_ids,
                                    int64_t width, int64_t height, int64_t tile_size, torch::Tensor transmittance,
                                    torch::Tensor last, torch::Tensor v_colors_out, torch::Tensor v_alphas_out) {
  const int64_t n = means2d.size(0), channels = colors.size(1);
  const Tiles t{tile_size, (width + tile_size - 1) / tile_size, (height + tile_size - 1) / tile_size, width, height};
  const int threads = omp_get_max_threads();
  auto v_means = torch::zeros({threads, n, 2}, means2d.options());
  auto v_conics = torch::zeros({threads, n, 3}, conics.options());
  auto v_colors = torch::zeros({threads, n, channels}, colors.options());
  auto v_opac = torch::zeros({threads, n}, opacities.options());
  const float* m = means2d.data_ptr<float>();
  const float* q = conics.data_ptr<float>();
  const float* c = colors.data_ptr<float>();
  const float* o = opacities.data_ptr<float>();
  const int32_t* offsets = tile_offsets.data_ptr<int32_t>();
  const int32_t* ids = flatten_ids.data_ptr<int32_t>();
  const float* ot = transmittance.data_ptr<float>();
  const int32_t* ol = last.data_ptr<int32_t>();
  const float* vc = v_colors_out.data_ptr<float>();
  const float* va = v_alphas_out.data_ptr<float>();
  const int64_t num_tiles = t.tiles_x * t.tiles_y;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t tile = 0; tile < num_tiles; ++tile) {
    const int thread = omp_get_thread_num();
    float* gm = v_means.data_ptr<float>() + thread * n * 2;
    float* gq = v_conics.data_ptr<float>() + thread * n * 3;
    float* gc = v_colors.data_ptr<float>() + thread * n * channels;
    float* go = v_opac.data_ptr<float>() + thread * n;
    const int32_t start = offsets[tile], count = offsets[tile + 1] - start;
    TileGaussians local(m, q, c, o, ids + start, count, channels);
    // The tile's gradients, added to the thread's buffers once at the end.
    std::vector<float> lm(2 * count, 0.0f), lq(3 * count, 0.0f), lc(channels * count, 0.0f), lo(count, 0.0f);
    std::vector<float> behind(channels);
    for_each_pixel(t, tile, [&](float px, float py, int64_t pix) {
      const float T_final = ot[pix];
      float T = T_final;  // transmittance behind the Gaussian being visited
      std::fill(behind.begin(), behind.end(), 0.0f);  // colour composited behind it, sum_k c_k alpha_k T_k
      const float* v_c = vc + pix * channels;
      const float v_a = va[pix];
      for (int32_t k = ol[pix] - 1 - start; k >= 0; --k) {
        const float* conic = &local.conic[3 * k];
        const float opacity = local.opacity[k];
        float alpha, g_exp, dx, dy;
        if (!gaussian_alpha(&local.mean[2 * k], conic, opacity, local.floor[k], px, py, alpha, g_exp, dx, dy))
          continue;
        const float one_minus = 1.0f - alpha;
        T /= one_minus;  // now the transmittance in front of this Gaussian
        const float w = alpha * T;
        float v_alpha = v_a * T_final / one_minus;
        for (int64_t d = 0; d < channels; ++d) {
          const float col = local.color[k * channels + d];
          lc[k * channels + d] += w * v_c[d];
          v_alpha += v_c[d] * (col * T - behind[d] / one_minus);
          behind[d] += col * w;
        }
        if (opacity * g_exp > kMaxAlpha) continue;  // clamped alpha: no gradient to opacity or shape
        lo[k] += v_alpha * g_exp;
        const float v_power = v_alpha * opacity * g_exp;
        lq[3 * k + 0] += -0.5f * dx * dx * v_power;
        lq[3 * k + 1] += -dx * dy * v_power;
        lq[3 * k + 2] += -0.5f * dy * dy * v_power;
        lm[2 * k + 0] += v_power * (-conic[0] * dx - conic[1] * dy);
        lm[2 * k + 1] += v_power * (-conic[2] * dy - conic[1] * dx);
      }
    });
    for (int32_t k = 0; k < count; ++k) {
      const int32_t g = ids[start + k];
      for (int j = 0; j < 2; ++j) gm[2 * g + j] += lm[2 * k + j];
      for (int j = 0; j < 3; ++j) gq[3 * g + j] += lq[3 * k + j];
      for (int64_t d = 0; d < channels; ++d) gc[g * channels + d] += lc[k * channels + d];
      go[g] += lo[k];
    }
  }
  return {v_means.sum(0), v_conics.sum(0), v_colors.sum(0), v_opac.sum(0)};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("forward", &forward, "Composite sorted 2D Gaussians per tile (CPU)");
  module.def("backward", &backward, "Gradients of forward (CPU)");
}
