SELECT $ä$ body $ä$, $a٣$ x $a٣$, e'\'', xe'\';
/* unterminated