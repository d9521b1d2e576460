// The one kernel dispatch (cpu/kernel_table.h): every ISA this machine runs has a complete
// table whose names say its tile and ISA, the detected table is the one chosen for
// cpu_isa_detect(), and kernels report their microkernel's name from the table.
#include <algorithm>
#include <cstdint>
#include <string>

#include "cpu/gemm.h"
#include "cpu/kernel_table.h"
#include "tests/cpu_kernel_testing.h"

using namespace atrous;
using cpu_testing::runnable_isas;

TEST_CASE("every runnable ISA has a complete kernel table named by its tiles", "[cpu][table]") {
  for (CpuIsa isa : runnable_isas()) {
    const CpuKernelTable& table = cpu_kernel_table(isa);
    const std::string suffix = std::string("_") + cpu_isa_name(isa);
    const std::string lanes = std::to_string(cpu_isa_vector_floats(isa));
    const std::string block = isa == CpuIsa::cpu_isa_scalar ? "1x1" : "8x" + lanes;
    INFO("isa=" << cpu_isa_name(isa));
    CHECK(table.isa == isa);
    CHECK(table.gemm.block);
    // gemm_tile_columns sizes the packing scratch: the widest of the main and the wide tile.
    CHECK(gemm_tile_columns(isa) ==
          std::max(table.gemm.tile_columns,
                   table.gemm_wide.block ? table.gemm_wide.tile_columns : int64_t(0)));
    if (table.gemm_wide.block) {
      CHECK(table.gemm_wide_min_pixels > 0);
      CHECK(table.gemm_wide.rows <= kGemmMaxRows);
      CHECK(table.gemm_wide.tile_columns <= kGemmMaxTile);
      CHECK(table.gemm_wide.tile_columns % cpu_isa_vector_floats(isa) == 0);
      CHECK(std::string(table.gemm_wide.name) ==
            "gemm_f32_" + std::to_string(table.gemm_wide.rows) + "x" +
                std::to_string(table.gemm_wide.tile_columns) + suffix);
    }
    // Three vectors × 8 rows on AVX-512 (32 registers), two × 6 elsewhere.
    const bool wide = isa == CpuIsa::cpu_isa_avx512;
    CHECK(table.gemm.tile_columns ==
          (isa == CpuIsa::cpu_isa_scalar ? 8 : (wide ? 3 : 2) * cpu_isa_vector_floats(isa)));
    CHECK(table.gemm.rows == (wide ? 8 : 6));
    CHECK(table.gemm.rows <= kGemmMaxRows);
    CHECK(table.gemm.tile_columns <= kGemmMaxTile);
    CHECK(std::string(table.gemm.name) == "gemm_f32_" + std::to_string(table.gemm.rows) + "x" +
                                              std::to_string(table.gemm.tile_columns) + suffix);
    CHECK(table.direct_conv.tile);
    CHECK((table.row_conv.tile != nullptr) == (isa != CpuIsa::cpu_isa_scalar));
    if (table.row_conv.tile) {
      CHECK(table.row_conv.tile_columns % cpu_isa_vector_floats(isa) == 0);
      CHECK(std::string(table.row_conv.name) ==
            "conv_rows_f32_" + std::to_string(table.row_conv.rows) + "x" +
                std::to_string(table.row_conv.tile_columns) + suffix);
    }
    CHECK(table.direct_conv.block % cpu_isa_vector_floats(isa) == 0);
    CHECK(std::string(table.direct_conv.name) ==
          "conv_direct_f32_" + std::to_string(table.direct_conv.tile_pixels) + "x" +
              std::to_string(table.direct_conv.block) + suffix);
    CHECK((table.depthwise.band && table.depthwise.row));
    CHECK(std::string(table.depthwise.band_name) == "dwconv_f32_band_" + block + suffix);
    CHECK(std::string(table.depthwise.row_name) == "dwconv_f32_row_" + block + suffix);
    const MiscKernels& misc = table.misc;
    CHECK((misc.binary && misc.binary_scalar && misc.activation && misc.resize_linear_row &&
           misc.resize_blend_rows && misc.resize_nearest_row && misc.softmax_channels &&
           misc.argmax_channels && misc.dot_rows && misc.gather_even && misc.plane_mean));
    CHECK(std::string(misc.name) == "f32_x" + lanes + suffix);
    const PanopticKernels& panoptic = table.panoptic;
    CHECK((panoptic.argmax_first && panoptic.nearest_center && panoptic.assign_instances &&
           panoptic.runs && panoptic.panoptic_values && panoptic.candidate_chunks &&
           panoptic.copy_labels && panoptic.instance_probability));
    CHECK(panoptic.center_width == cpu_isa_vector_floats(isa));
    CHECK(&panoptic_kernels(isa) == &table.panoptic);
  }
  CHECK(&cpu_kernel_table() == &cpu_kernel_table(cpu_isa_detect()));
}

TEST_CASE("kernels report the table's microkernel names", "[cpu][table]") {
  AttributeMap none;
  for (CpuIsa isa : runnable_isas()) {
    CpuKernelConfig config;
    config.isa = isa;
    const CpuKernelTable& table = cpu_kernel_table(isa);
    Graph relu = cpu_testing::single_node_graph(OpType::op_relu, none, {{1, 3, 5, 7}});
    CpuKernelPtr kernel = cpu_make_elementwise_kernel(relu, 0, config);
    REQUIRE(kernel);
    CHECK(std::string(kernel->name()) == std::string("relu_") + table.misc.name);
    Graph add = cpu_testing::single_node_graph(OpType::op_add, none, {{1, 3, 5, 7}, {1, 3, 5, 7}});
    kernel = cpu_make_elementwise_kernel(add, 0, config);
    REQUIRE(kernel);
    CHECK(std::string(kernel->name()) == std::string("binary_") + table.misc.name);
  }
}
