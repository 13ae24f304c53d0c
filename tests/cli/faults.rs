//! Hostile input and faults (issue 8): fuzzing of the parser and the processing path
//! (`fuzz`), and the real `crashctl collect` under abusive clients, `kill -9`, and a full or
//! read-only disk. Figures are recorded in docs/reliability.md.

mod fuzz;
