// Backslash escapes in command-line text, as llama.cpp's -e / -p process them: \n \r \t \' \" \\ \xNN.
// An unknown or incomplete escape is kept as written.
#pragma once

#include <string>
#include <string_view>

namespace cria {

std::string process_escapes(std::string_view text);

}  // namespace cria
