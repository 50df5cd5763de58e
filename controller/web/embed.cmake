# embed.cmake - turn the web page's files into a C source (cmake -P).
#
#   cmake -DOUT=web_assets.c -DFILES=a.html,b.js -P embed.cmake
#
# Each file F becomes `const unsigned char ctl_web_<F>[]` and
# `const size_t ctl_web_<F>_len`, where <F> is the file name with every
# character that is not a letter or a digit turned into '_'
# (index.html -> ctl_web_index_html). controller/web.c declares them.
# Plain CMake so the build needs no xxd.
string(REPLACE "," ";" FILES "${FILES}")
set(src "/* Generated from controller/web/ by embed.cmake: do not edit. */\n")
string(APPEND src "#include <stddef.h>\n")
foreach(f ${FILES})
  get_filename_component(name "${f}" NAME)
  string(MAKE_C_IDENTIFIER "ctl_web_${name}" id)
  file(READ "${f}" hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  # 16 bytes a line keeps the generated file readable in a debugger.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n\t" hex "${hex}")
  string(APPEND src "\nextern const unsigned char ${id}[];\n"
         "extern const size_t ${id}_len;\n"
         "const unsigned char ${id}[] = {\n\t${hex}0x00\n};\n"
         "const size_t ${id}_len = ${n};\n")
endforeach()
# Write only when it changed, so an unchanged page relinks nothing.
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL src)
  file(WRITE "${OUT}" "${src}")
endif()
