// Asks of a group's works gathered into one statement (consumes.ts).

/**
 * The works of a group all start in one synchronous pass (group-commit.ts runTogether), and
 * each asks its first question of the database there. Asked through this, the questions of
 * that pass are gathered and sent a microtask later, once every work has asked, as one
 * statement — which still leaves with the group's BEGIN, since the socket is uncorked only on
 * the next tick (pool.ts batchWrites). `send` gets the asks in the order they came and answers
 * each by its place. A failed statement fails every asker of it.
 */
export class Gathered<A, R> {
  /** The asks since the last statement was sent, and that statement's answer. */
  private batch: { asks: A[]; answer: Promise<(place: number) => R> } | undefined;

  constructor(private readonly send: (asks: readonly A[]) => Promise<(place: number) => R>) {}

  ask(ask: A): Promise<R> {
    if (this.batch === undefined) {
      const asks: A[] = [];
      const answer = Promise.resolve().then(() => {
        this.batch = undefined;
        return this.send(asks);
      });
      this.batch = { asks, answer };
    }
    const place = this.batch.asks.push(ask) - 1;
    return this.batch.answer.then((answer) => answer(place));
  }
}
