//! syzkaller-format annotated crash cases. (Being written: see issue 2.)
