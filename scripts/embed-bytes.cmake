# cmake -DIN=file.bin -DOUT=file.c -DNAME=symbol -P embed-bytes.cmake
# Writes OUT defining `const unsigned char NAME[]` and `const size_t NAME_len` with the bytes
# of IN, so a committed binary asset (the default scorer weights) is compiled into the program
# without a generated source file in the repository.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR n "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){24})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated at build time by scripts/embed-bytes.cmake from ${IN}. */\n"
  "#include <stddef.h>\n"
  "const size_t ${NAME}_len = ${n};\n"
  "const unsigned char ${NAME}[${n}] = {\n${bytes}};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
