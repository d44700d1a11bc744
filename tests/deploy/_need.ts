/** The Debian programs the deployment tests run: declared with needTools (tests/_tools.ts), listed in scripts/test_packages.txt. */
export { findProgram, needTools } from "../_tools.ts";
