/* hex.h - hexadecimal digits, for the parsers that read them (JSON \u
 * escapes, percent-encoding, chunk sizes). */
#ifndef SR_HEX_H
#define SR_HEX_H

/* 0..15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for any other byte. */
int sr_hex_value(unsigned char c);

#endif
