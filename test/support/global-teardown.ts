/** Stops the run's DynamoDB Local instances. */
export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__DYNAMODB_LOCALS__ ?? []).map((dynamo) => dynamo.stop()));
}
