// The rollback list of a multi-step call: each step that made something
// pushes how to undo it; if the call returns early the undos run in reverse
// order, and once the call has succeeded Dismiss() drops them.
//
//   UndoStack undo;
//   ASSIGN_OR_RETURN(auto pins, Pin());
//   undo.Push([&] { Unpin(pins); });
//   RETURN_IF_ERROR(NextStep());  // fails: Unpin runs
//   undo.Dismiss();
#ifndef OCID_PKG_BASE_UNDO_STACK_H_
#define OCID_PKG_BASE_UNDO_STACK_H_

#include <functional>
#include <utility>
#include <vector>

namespace ocid {

class UndoStack {
 public:
  UndoStack() = default;
  UndoStack(const UndoStack&) = delete;
  UndoStack& operator=(const UndoStack&) = delete;
  ~UndoStack() { RunAll(); }

  // Undos must not throw; they report nothing (the call already fails with
  // the error that made it roll back).
  void Push(std::function<void()> undo) { undos_.push_back(std::move(undo)); }

  // The call succeeded: keep what was made.
  void Dismiss() { undos_.clear(); }

  // Runs the undos now, newest first (the destructor does it otherwise).
  void RunAll() {
    while (!undos_.empty()) {
      std::function<void()> undo = std::move(undos_.back());
      undos_.pop_back();
      undo();
    }
  }

 private:
  std::vector<std::function<void()>> undos_;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_UNDO_STACK_H_
