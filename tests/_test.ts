/** The former name of tests/_suite.ts, kept so that tests importing it still build; import tests/_suite.ts. */
export * from "./_suite.ts";
