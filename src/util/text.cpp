#include "util/text.h"

#include <fmt/format.h>

#include <stdexcept>

namespace headcount {

void check_utf8(const std::string& text, const std::string& where) {
  const size_t at = invalid_utf8_at(text);
  if (at == std::string::npos) return;
  throw std::runtime_error(fmt::format("{}: not valid UTF-8 at byte {} (0x{:02X}); headcount reads UTF-8 text only", where,
                                       at + 1, static_cast<unsigned char>(text[at])));
}

}  // namespace headcount
