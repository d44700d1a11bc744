/** cmdop's version, reported by `cmdop --version` and by agents to the relay. */
export const VERSION = "0.1.0";
