/* placeholder replaced by the orchctl work: keeps the tree building */
#include <stdio.h>
int main(void) { fprintf(stderr, "orchctl: not built yet\n"); return 2; }
