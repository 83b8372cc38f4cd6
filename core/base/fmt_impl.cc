// fmt's compiled part, built once for the whole project.
//
// Debian ships fmt 9 only as a shared library; berthctl is linked
// statically, so the project does not link it. Defining FMT_HEADER_ONLY
// everywhere instead compiled fmt's implementation (format-inl.h, about
// 4 s at -O2 -g) into every translation unit that logs: half of a full
// build's CPU time. Here it is compiled once; every other file sees fmt's
// declarations and its `extern template` promises, which this file keeps.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template locale_ref::locale_ref(const std::locale& loc);
template auto locale_ref::get<std::locale>() const -> std::locale;
template auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl(locale_ref) -> char;
template void buffer<char>::append(const char*, const char*);
template void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

}  // namespace detail
FMT_END_NAMESPACE
