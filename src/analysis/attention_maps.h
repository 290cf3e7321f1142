// The attention maps of one input, every layer and head, as a figure drawn like the
// report's others: data files and a gnuplot script kept beside the SVG, one figure per
// stack and kind of attention (attention_encoder_self.svg, attention_decoder_cross.svg, ...),
// a panel per layer (rows) and head (columns), the real positions only.
#pragma once

#include <string>
#include <vector>

#include "data/batch.h"
#include "model/transformer.h"

namespace headcount {

// example: a batch of one (the first row of a larger batch is taken). Returns the SVG
// files written (an SVG gnuplot could not draw is left out, its script kept).
std::vector<std::string> write_attention_maps(Transformer& model, const Batch& example, const std::string& out_dir);

}  // namespace headcount
