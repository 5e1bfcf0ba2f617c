import click
import keras


@click.command()
@click.option("--epochs", default=5, type=int, show_default=True)
@click.option("--lr", "learning_rate", type=click.FloatRange(1e-5, 1.0), default=0.01)
@click.option("--activation", type=click.Choice(["relu", "tanh"]), default="relu")
@click.option("--augment/--no-augment", default=False)
@click.argument("data")
def main(epochs: int, learning_rate: float, activation: str, augment: bool, data: str) -> None:
    model = keras.Sequential([keras.layers.Dense(8, activation=activation), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    model.fit(keras.random.normal((32, 4)), keras.random.normal((32, 1)), epochs=epochs)


if __name__ == "__main__":
    main()
