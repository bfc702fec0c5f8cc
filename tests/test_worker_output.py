"""What the worker counts of a student's printing: characters, and lines however they end."""
import pytest

from autograder.worker import CountingWriter


@pytest.mark.parametrize("writes, lines", [
    (["loss 1\n", "loss 2\n"], 2),
    (["loss 1\r\n", "loss 2\r\n"], 2),
    (["loss 1\r", "loss 2\r", "epoch done\n"], 3),  # progress printed over itself
    (["loss 1\r", "\nloss 2\r", "\n"], 2),  # "\r\n" split between writes
    (["no end"], 0),
    (["", "\r", "", "\n"], 1),
])
def test_lines_end_at_newline_carriage_return_or_both(writes, lines):
    writer = CountingWriter()
    for text in writes:
        writer.write(text)
    assert writer.lines == lines
    assert writer.size == sum(map(len, writes))


def test_a_new_program_counts_anew_in_the_same_writer():
    """A logging handler made during one program keeps writing to the writer it found then."""
    writer = CountingWriter()
    writer.write("first program\n")
    writer.reset()
    writer.write("x\r")
    assert (writer.lines, writer.size, writer.head) == (1, 2, "x\r")
