/** Preloaded into a relay or agent by a test: on SIGUSR2 it leaves a promise rejection unobserved and throws from a timer, as a bug would. */
Deno.addSignalListener("SIGUSR2", () => {
  Promise.reject(new Error("deliberately unobserved rejection"));
  setTimeout(() => {
    throw new Error("deliberately uncaught exception");
  }, 0);
});
